//! The virtual board: the configuration block goes into a pflash image, QEMU boots the ELF.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// QEMU virt's pflash banks are 32 MiB; the block sits at the start of the second one.
pub const PFLASH_SIZE: usize = 32 * 1024 * 1024;

pub fn pflash_image(block: &[u8]) -> Vec<u8> {
    let mut image = vec![0xFFu8; PFLASH_SIZE];
    image[..block.len()].copy_from_slice(block);
    image
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

/// Boots `elf` with the block and waits for QEMU to end (or kills it after `timeout`).
pub fn boot(
    elf: &Path,
    block: &[u8],
    console: &Console,
    timeout: Option<Duration>,
) -> Result<ExitStatus> {
    let image = temp_image()?;
    std::fs::write(&image, pflash_image(block))
        .with_context(|| format!("cannot write {}", image.display()))?;
    let result = run(elf, &image, console, timeout);
    let _ = std::fs::remove_file(&image);
    result
}

fn temp_image() -> Result<PathBuf> {
    Ok(std::env::temp_dir().join(format!("mreq-flash-pflash-{}.img", std::process::id())))
}

fn run(
    elf: &Path,
    image: &Path,
    console: &Console,
    timeout: Option<Duration>,
) -> Result<ExitStatus> {
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
    match console {
        Console::Terminal => qemu.args(["-serial", "mon:stdio"]),
        Console::Tcp(port) => qemu
            .arg("-chardev")
            .arg(format!(
                "socket,id=con,host=127.0.0.1,port={port},server=on,wait=on"
            ))
            .args(["-serial", "chardev:con"]),
    };
    let mut child = qemu.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!(
            "qemu-system-riscv32 is not installed (Debian: apt-get install qemu-system-misc)"
        ),
        _ => anyhow::anyhow!("cannot start QEMU: {e}"),
    })?;
    let Some(limit) = timeout else {
        return child.wait().context("waiting for QEMU");
    };
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return child.wait().context("stopping QEMU");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
