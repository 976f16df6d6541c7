//! The virtual board: the configuration block goes into a pflash image, QEMU boots the ELF.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// How a boot ended.
#[derive(Debug)]
pub enum Ended {
    /// QEMU exited by itself (the firmware's code through the test device, or Ctrl-A X).
    Exited(ExitStatus),
    /// `--timeout` passed and QEMU was stopped.
    TimedOut,
}

/// QEMU virt's pflash banks are 32 MiB; the block sits at the start of the second one.
pub const PFLASH_SIZE: usize = 32 * 1024 * 1024;

/// A whole pflash bank: the block at its start, erased (0xFF) elsewhere; all erased without one.
pub fn pflash_image(block: Option<&[u8]>) -> Vec<u8> {
    let mut image = vec![0xFFu8; PFLASH_SIZE];
    if let Some(block) = block {
        image[..block.len()].copy_from_slice(block);
    }
    image
}

/// Makes `path` the board's flash: a new file gets the block (or stays blank); an existing one
/// gets the block written over its own, or keeps its own when there is none to write.
pub fn prepare(path: &Path, block: Option<&[u8]>) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.len() != PFLASH_SIZE as u64 {
                bail!(
                    "{} is {} bytes, not a QEMU pflash bank ({PFLASH_SIZE} bytes)",
                    path.display(),
                    meta.len()
                );
            }
            if let Some(block) = block {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                std::io::Write::write_all(&mut file, block)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(path, pflash_image(block))
                .with_context(|| format!("cannot write {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Where the console goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Console {
    /// This terminal, interactive (Ctrl-A X quits QEMU).
    Terminal,
    /// A TCP server on 127.0.0.1:PORT; QEMU waits for the first client before it starts.
    Tcp(u16),
}

pub fn parse_console(text: &str) -> Result<Console> {
    match text.strip_prefix("tcp:").map(str::parse::<u16>) {
        Some(Ok(port)) => Ok(Console::Tcp(port)),
        _ => bail!("--qemu-console {text}: expected tcp:PORT"),
    }
}

/// Boots `elf` and waits for QEMU to end (or stops it after `timeout`). The board's flash is
/// `pflash` (kept between boots, see [`prepare`]) or a new file removed afterwards. A QEMU that
/// something else killed is an error, not a finished run.
pub fn boot(
    elf: &Path,
    pflash: Option<&Path>,
    block: Option<&[u8]>,
    console: &Console,
    log: Option<&Path>,
    timeout: Option<Duration>,
) -> Result<Ended> {
    let result = match pflash {
        Some(path) => {
            prepare(path, block)?;
            run(elf, path, console, log, timeout)
        }
        None => {
            let (image, mut file) = temp_image()?;
            std::io::Write::write_all(&mut file, &pflash_image(block))
                .with_context(|| format!("cannot write {}", image.display()))?;
            match unlinked(&image, &file) {
                // QEMU opens the file through the descriptor it inherits: nothing is left in
                // the temporary directory (with the Wi-Fi password), even if mreq-flash is killed.
                Some(inherited) => run(elf, &inherited, console, log, timeout),
                None => {
                    drop(file);
                    let result = run(elf, &image, console, log, timeout);
                    let _ = std::fs::remove_file(&image);
                    result
                }
            }
        }
    };
    let ended = result?;
    if let Ended::Exited(status) = &ended {
        if status.code().is_none() {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(signal) = status.signal() {
                    bail!("QEMU was killed by signal {signal} before the board finished");
                }
            }
            bail!("QEMU ended without an exit status: {status}");
        }
    }
    Ok(ended)
}

/// QEMU gets SIGKILL when mreq-flash ends, however it ends: a killed mreq-flash must not leave a
/// board running in the background.
#[cfg(target_os = "linux")]
fn end_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only makes one system call
    // (prctl), which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn end_with_parent(_: &mut Command) {}

/// Removes `path` and lets child processes inherit `file`: the path QEMU opens it by.
#[cfg(target_os = "linux")]
fn unlinked(path: &Path, file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    rustix::io::fcntl_setfd(file, rustix::io::FdFlags::empty()).ok()?;
    std::fs::remove_file(path).ok()?;
    Some(PathBuf::from(format!("/dev/fd/{}", file.as_raw_fd())))
}

#[cfg(not(target_os = "linux"))]
fn unlinked(_: &Path, _: &File) -> Option<PathBuf> {
    None
}

/// A new pflash file only this user can read (it holds the Wi-Fi password), under a name no one
/// can guess or place beforehand.
fn temp_image() -> Result<(PathBuf, File)> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for attempt in 0..100u32 {
        let name = format!(
            "mreq-flash-pflash-{}-{:x}.img",
            std::process::id(),
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(u128::from(attempt))
                >> 64
        );
        let path = std::env::temp_dir().join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    bail!(
        "cannot create a pflash file in {}",
        std::env::temp_dir().display()
    )
}

fn run(
    elf: &Path,
    image: &Path,
    console: &Console,
    log: Option<&Path>,
    timeout: Option<Duration>,
) -> Result<Ended> {
    let mut qemu = Command::new("qemu-system-riscv32");
    qemu.args([
        "-machine",
        "virt",
        "-m",
        "128M",
        "-nographic",
        "-bios",
        "none",
        "-monitor",
        "none",
    ])
    // Not -kernel: with pflash unit 1 attached, virt would take the bank for firmware.
    .arg("-device")
    .arg(format!("loader,file={}", elf.display()))
    .args(["-global", "virtio-mmio.force-legacy=false"])
    .args([
        "-netdev",
        "user,id=n0",
        "-device",
        "virtio-net-device,netdev=n0",
        // The hardware RNG that TLS draws on (the host's /dev/urandom).
        "-device",
        "virtio-rng-device",
    ])
    .arg("-drive")
    .arg(format!(
        "if=pflash,unit=1,format=raw,file={}",
        image.display()
    ));
    // QEMU's chardevs write the log themselves (`logfile=`), whichever way the console goes.
    let logfile = log.map_or(String::new(), |path| format!(",logfile={}", path.display()));
    match (console, log) {
        (Console::Terminal, None) => qemu.args(["-serial", "mon:stdio"]),
        (Console::Terminal, Some(_)) => qemu
            .arg("-chardev")
            .arg(format!("stdio,id=con,mux=on{logfile}"))
            .args(["-serial", "chardev:con", "-mon", "chardev=con"]),
        (Console::Tcp(port), _) => qemu
            .arg("-chardev")
            .arg(format!(
                "socket,id=con,host=127.0.0.1,port={port},server=on,wait=on{logfile}"
            ))
            .args(["-serial", "chardev:con"]),
    };
    end_with_parent(&mut qemu);
    let mut child = qemu.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "qemu-system-riscv32 is not installed (Debian: apt-get install qemu-system-misc)"
        ),
        _ => anyhow::anyhow!("cannot start QEMU: {e}"),
    })?;
    let Some(limit) = timeout else {
        return child.wait().context("waiting for QEMU").map(Ended::Exited);
    };
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            return Ok(Ended::Exited(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait().context("stopping QEMU")?;
            return Ok(Ended::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
