//! Installing mreq's MicroPython module on a board that runs MicroPython (the ESP8266 above all):
//! through the raw REPL it checks what the board runs, copies the module's files, verifies each
//! by a checksum the board computes from what it stored, and writes the configuration as the
//! files the module reads (`mreq_config.json`, `mreq_ca.der`). It replaces mrequests'
//! install.sh/install.py (mpy-cross, then mpremote or rshell).

use crate::raw_repl::{bytes_literal, str_literal, RawRepl, RemoteError};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

/// The module's files, built into mreq-flash so that an installed binary carries them.
pub const MODULES: [(&str, &str); 3] = [
    (
        "mrequests",
        include_str!("../../firmware/micropython/mrequests.py"),
    ),
    (
        "urlencode",
        include_str!("../../firmware/micropython/urlencode.py"),
    ),
    (
        "mreq_wifi",
        include_str!("../../firmware/micropython/mreq_wifi.py"),
    ),
];

/// What `--boot` adds to the board's boot.py (after the user's own lines, which stay).
pub const BOOT_BLOCK: &str = "# mreq-flash --boot: join the Wi-Fi network of mreq_config.json
import mreq_wifi
mreq_wifi.connect()
";
/// The line that tells a boot.py already has the block.
const BOOT_MARK: &str = "# mreq-flash --boot:";

/// Bytes per write command: small enough for a micro:bit's 8 KB of free RAM once escaped.
const CHUNK: usize = 192;

/// The module as sent to the board: without comment-only and blank lines, one space per
/// indentation level. The board compiles the source in its RAM, and a micro:bit's 8 KB do not
/// hold the full file's parse (line numbers in tracebacks then differ from the repository's).
/// Only for the modules shipped here, which have no multi-line strings (a unit test checks).
pub fn compact(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let code = line.trim_start_matches(' ');
        if code.trim().is_empty() || code.starts_with('#') {
            continue;
        }
        let indent = line.len() - code.len();
        if indent % 4 == 0 {
            out.push_str(&" ".repeat(indent / 4));
        } else {
            // Inside brackets (a continued line): indentation means nothing there.
            out.push_str(&line[..indent]);
        }
        out.push_str(code.trim_end());
        out.push('\n');
    }
    out
}

/// What the board says it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub version: String,
    pub platform: String,
    /// `sys.implementation._mpy` (`.mpy` before 1.20): the .mpy version it loads in the low
    /// byte, its sub-version in bits 8-9 and the native architecture above; 0 where the port
    /// loads no .mpy files.
    pub mpy: u32,
}

/// Asks the board for its implementation; anything but MicroPython is refused.
pub fn identify<P: Read + Write>(repl: &mut RawRepl<P>) -> Result<Board> {
    let out = repl.exec(
        "import sys\ni=sys.implementation\nm=getattr(i,'_mpy',getattr(i,'mpy',0))\nv=i.version\nprint(i.name,'%d.%d.%d'%(v[0],v[1],v[2]),sys.platform,m)\n",
    )?;
    let words: Vec<&str> = out.split_whitespace().collect();
    match words.as_slice() {
        ["micropython", version, platform, mpy] => Ok(Board {
            version: version.to_string(),
            platform: platform.to_string(),
            mpy: mpy.parse().unwrap_or(0),
        }),
        _ => bail!(
            "the board does not run MicroPython (it says {:?})",
            out.trim()
        ),
    }
}

impl Board {
    /// Whether the board's MicroPython is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        let mut parts = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        found >= (major, minor)
    }

    /// The `.mpy` format the board loads: (version, sub-version).
    pub fn mpy_format(&self) -> Option<(u32, u32)> {
        let version = self.mpy & 0xFF;
        (version != 0).then_some((version, (self.mpy >> 8) & 3))
    }
}

/// The `.mpy` format an mpy-cross emits, from its `--version` ("... mpy-cross emitting mpy v6.2").
pub fn emitted_format(version_text: &str) -> Option<(u32, u32)> {
    let (_, tail) = version_text.split_once("emitting mpy v")?;
    let (major, minor) = tail.trim().split_once('.').unwrap_or((tail.trim(), "0"));
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// MicroPython's compiler, from `MREQ_MPY_CROSS` or `mpy-cross` on the PATH, if it emits the
/// `.mpy` format the board loads.
fn matching_compiler(board: &Board) -> Option<std::path::PathBuf> {
    let wanted = board.mpy_format()?;
    let program = std::env::var_os("MREQ_MPY_CROSS").unwrap_or_else(|| "mpy-cross".into());
    let out = std::process::Command::new(&program)
        .arg("--version")
        .output()
        .ok()?;
    (emitted_format(&String::from_utf8_lossy(&out.stdout)) == Some(wanted)).then(|| program.into())
}

/// The module compiled by `compiler` into bytecode (no native code: any architecture loads it).
fn compile(compiler: &std::path::Path, name: &str, source: &str) -> Result<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("mreq-flash-mpy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (py, mpy) = (
        dir.join(format!("{name}.py")),
        dir.join(format!("{name}.mpy")),
    );
    std::fs::write(&py, source).with_context(|| format!("cannot write {}", py.display()))?;
    let run = std::process::Command::new(compiler)
        .arg("-o")
        .arg(&mpy)
        .arg(&py)
        .output()
        .with_context(|| format!("cannot run {}", compiler.display()));
    let compiled = std::fs::read(&mpy);
    let _ = std::fs::remove_dir_all(&dir);
    let run = run?;
    if !run.status.success() {
        bail!(
            "{} rejected {name}.py: {}",
            compiler.display(),
            String::from_utf8_lossy(&run.stderr).trim()
        );
    }
    compiled.with_context(|| format!("{} wrote no {name}.mpy", compiler.display()))
}

/// Writes `data` to `name` on the board's filesystem and checks it by the CRC-32 the board
/// computes from the stored file. A damaged copy (a write command that ran but whose answer was
/// lost, and so ran twice) is written again from the start, once.
pub fn put<P: Read + Write>(repl: &mut RawRepl<P>, name: &str, data: &[u8]) -> Result<()> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        bail!("{name:?}: file names on the board are kept to ASCII letters, digits and ._-/");
    }
    let expected = mreq_fwconfig::crc32(data);
    let mut stored = 0;
    for _ in 0..2 {
        write_file(repl, name, data)?;
        stored = checksum(repl, name)?;
        if stored == expected {
            return Ok(());
        }
    }
    bail!("{name} on the board has CRC-32 {stored:#010x}, the file sent {expected:#010x}, twice: the copy is damaged (check the cable and the baud rate)")
}

fn write_file<P: Read + Write>(repl: &mut RawRepl<P>, name: &str, data: &[u8]) -> Result<()> {
    let write = |repl: &mut RawRepl<P>, code: String| {
        repl.exec(&code).map(drop).map_err(|e| match e.downcast_ref::<RemoteError>() {
            Some(remote) if is_full(&remote.traceback) => anyhow::anyhow!(
                "the board's filesystem is full while writing {name} ({} bytes): remove files (os.remove) or install fewer modules (--modules)",
                data.len()
            ),
            _ => e.context(format!("writing {name} on the board")),
        })
    };
    write(
        repl,
        format!("f=open({},'wb')\nw=f.write\n", str_literal(name)),
    )?;
    for chunk in data.chunks(CHUNK) {
        write(repl, format!("w({})\n", bytes_literal(chunk)))?;
    }
    write(repl, "f.close()\ndel f,w\n".to_string())
}

/// The CRC-32 (zlib's) of a file on the board, computed there in plain Python: the micro:bit's
/// port has no hashlib or binascii.
fn checksum<P: Read + Write>(repl: &mut RawRepl<P>, name: &str) -> Result<u32> {
    let code = format!(
        "def _crc(n):\n c=0xffffffff\n f=open(n,'rb')\n while 1:\n  b=f.read(64)\n  if not b:\n   break\n  for x in b:\n   c^=x\n   for i in range(8):\n    c=(c>>1)^(0xedb88320&-(c&1))\n f.close()\n return c^0xffffffff\nprint(_crc({}))\ndel _crc\n",
        str_literal(name)
    );
    let out = repl
        .exec(&code)
        .with_context(|| format!("reading {name} back on the board"))?;
    out.trim()
        .parse()
        .with_context(|| format!("the board's checksum of {name}: {:?}", out.trim()))
}

fn is_full(traceback: &str) -> bool {
    traceback.contains("ENOSPC") || traceback.contains("OSError: 28")
}

/// The configuration files the module reads, from the configuration options.
pub fn config_files(
    ssid: Option<&str>,
    password: &str,
    ntp: Option<&str>,
    certs: &[Vec<u8>],
) -> Vec<(&'static str, Vec<u8>)> {
    let mut config = serde_json::Map::new();
    if let Some(ssid) = ssid {
        config.insert(
            "wifi".into(),
            serde_json::json!({ "ssid": ssid, "password": password }),
        );
    }
    if let Some(ntp) = ntp {
        config.insert("ntp".into(), ntp.into());
    }
    let mut files = Vec::new();
    if !certs.is_empty() {
        config.insert("cacert".into(), "mreq_ca.der".into());
        files.push(("mreq_ca.der", certs.concat()));
    }
    let json = serde_json::Value::Object(config).to_string().into_bytes();
    files.insert(0, ("mreq_config.json", json));
    files
}

/// `mreq-flash micropython`: install the module on a board that runs MicroPython.
#[derive(Debug, Clone, clap::Args)]
pub struct MicroPythonArgs {
    /// The board's serial port (default: the single port showing the USB IDs of --board).
    #[arg(long)]
    pub port: Option<String>,
    /// The board (see --list-boards), to find its port; any board that runs MicroPython works.
    #[arg(long)]
    pub board: Option<String>,
    /// The REPL's speed.
    #[arg(long, default_value_t = crate::monitor::CONSOLE_BAUD)]
    pub baud: u32,
    /// The modules to install (comma-separated): mrequests (the client, needs urlencode) and
    /// urlencode (the URL helpers alone, for boards with little room), mreq_wifi (joins the Wi-Fi
    /// network of the configuration).
    #[arg(long, value_delimiter = ',', default_values_t = default_modules())]
    pub modules: Vec<String>,
    /// After installing, run this script on the board and print its output (exit 1 if it
    /// raises); given several times, the scripts run in turn (each compiled on its own, for
    /// boards with little RAM).
    #[arg(long, value_name = "FILE")]
    pub run: Vec<std::path::PathBuf>,
    /// Make boot.py join the configured Wi-Fi network at every start (mreq_wifi.connect()):
    /// added after the lines boot.py has, which stay; nothing is added twice.
    #[arg(long)]
    pub boot: bool,
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
    /// Set after flashing MicroPython: its first boot makes the filesystem, so the REPL is
    /// waited for (up to [`FIRST_BOOT`]).
    #[arg(skip)]
    pub just_flashed: bool,
}

/// How long a freshly flashed MicroPython may take to reach its REPL (the ESP8266 formats its
/// filesystem at the first boot).
const FIRST_BOOT: std::time::Duration = std::time::Duration::from_secs(30);

/// Every module (mrequests needs urlencode).
pub fn default_modules() -> Vec<String> {
    MODULES.iter().map(|(name, _)| name.to_string()).collect()
}

/// A usage error (exit 2): an option the module would not act on, or an unknown module.
pub fn check(args: &MicroPythonArgs) -> Result<(), String> {
    for module in &args.modules {
        if !MODULES.iter().any(|(name, _)| name == module) {
            let names: Vec<&str> = MODULES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "--modules: no module {module:?} (there are: {})",
                names.join(", ")
            ));
        }
    }
    if args.modules.iter().any(|m| m == "mrequests")
        && !args.modules.iter().any(|m| m == "urlencode")
    {
        return Err("--modules: mrequests needs urlencode (give both)".into());
    }
    if args.boot && !args.modules.iter().any(|m| m == "mreq_wifi") {
        return Err("--boot: boot.py would call mreq_wifi, which --modules leaves out".into());
    }
    let c = &args.config;
    let unused = [
        (c.ip.is_some(), "--ip"),
        (c.gateway.is_some(), "--gateway"),
        (!c.dns.is_empty(), "--dns"),
        (c.startup_url.is_some(), "--startup-url"),
        (c.insecure, "--insecure"),
        (!c.app_setting.is_empty(), "--app-setting"),
        (c.config.is_some(), "--config"),
    ];
    if let Some((_, name)) = unused.iter().find(|(given, _)| *given) {
        return Err(format!(
            "{name} does not apply to a MicroPython board: the module reads only the Wi-Fi network (--wifi-ssid, --wifi-pass...), --ntp and --cacert"
        ));
    }
    Ok(())
}

pub fn install(args: &MicroPythonArgs) -> Result<u8> {
    let board = match &args.board {
        Some(name) => Some(
            mreq_fwconfig::boards::board(name)
                .with_context(|| format!("unknown board {name:?} (see --list-boards)"))?,
        ),
        None => None,
    };
    let port_name = match (&args.port, board) {
        (Some(port), _) => port.clone(),
        (None, Some(board)) => crate::pick_port(None, board)?.0,
        (None, None) => bail!("give --port (or --board, to find the board's port)"),
    };
    let started = std::time::Instant::now();
    let mut repl = loop {
        let port = serialport::new(&port_name, args.baud)
            .timeout(std::time::Duration::from_millis(100))
            .open()
            .map_err(|e| crate::port_error(&port_name, e))?;
        match RawRepl::enter(port, &port_name) {
            Ok(repl) => break repl,
            Err(_) if args.just_flashed && started.elapsed() < FIRST_BOOT => {
                std::thread::sleep(std::time::Duration::from_secs(1))
            }
            Err(e) => return Err(e),
        }
    };
    let found = identify(&mut repl)?;
    eprintln!(
        "MicroPython {} on {} ({port_name})",
        found.version, found.platform
    );
    if args.modules.iter().any(|m| m == "mrequests") && !found.at_least(1, 19) {
        bail!(
            "mrequests needs MicroPython 1.19 or later; the board on {port_name} runs {}: update its firmware, or install the URL helpers alone with --modules urlencode",
            found.version
        );
    }
    let compiler = matching_compiler(&found);
    if compiler.is_none() {
        eprintln!(
            "(copying the sources: {}; a board with little RAM compiles them when they are imported)",
            match found.mpy_format() {
                Some((v, sub)) => format!("no mpy-cross emitting .mpy v{v}.{sub} (set MREQ_MPY_CROSS)"),
                None => "the board loads no .mpy files".into(),
            }
        );
    }
    for (name, source) in MODULES
        .iter()
        .filter(|(name, _)| args.modules.iter().any(|m| m == name))
    {
        match &compiler {
            // Bytecode: nothing to compile on the board. The source goes, so it cannot shadow it.
            Some(compiler) => {
                let code = compile(compiler, name, source)?;
                put(&mut repl, &format!("{name}.mpy"), &code)?;
                repl.exec(&format!(
                    "import os\ntry:\n os.remove({})\nexcept OSError:\n pass\n",
                    str_literal(&format!("{name}.py"))
                ))?;
                eprintln!(
                    "installed {name}.mpy ({} bytes, compiled from {} of source; checked on the board)",
                    code.len(),
                    source.len()
                );
            }
            None => {
                let file = format!("{name}.py");
                let compact = compact(source);
                put(&mut repl, &file, compact.as_bytes())?;
                eprintln!(
                    "installed {file} ({} bytes, compacted from {}; checked on the board)",
                    compact.len(),
                    source.len()
                );
            }
        }
    }
    write_config(&mut repl, &args.config)?;
    if args.boot {
        add_boot_block(&mut repl)?;
    }
    // The scripts start from a fresh interpreter: all of the board's RAM for them and the
    // modules they import.
    if !args.run.is_empty() {
        repl.soft_reset()?;
    }
    let mut code = 0;
    for script in &args.run {
        let source = std::fs::read_to_string(script)
            .with_context(|| format!("cannot read {}", script.display()))?;
        // The script is parsed before it runs: collect the previous one's garbage first.
        repl.exec("import gc\ngc.collect()\n")?;
        match repl.run_script(&source) {
            Ok(out) => print!("{out}"),
            Err(e) => match e.downcast::<RemoteError>() {
                Ok(remote) => {
                    print!("{}", remote.output);
                    eprintln!("{}: raised on the board:\n{remote}", script.display());
                    code = 1;
                    break;
                }
                Err(e) => return Err(e),
            },
        }
    }
    if repl.resent > 0 {
        eprintln!(
            "(the board on {port_name} missed bytes: {} commands were sent again, each checked before it ran)",
            repl.resent
        );
    }
    repl.leave()?;
    Ok(code)
}

/// Adds [`BOOT_BLOCK`] to the board's boot.py (made if there is none), keeping what it has.
fn add_boot_block<P: Read + Write>(repl: &mut RawRepl<P>) -> Result<()> {
    let existing = read_file(repl, "boot.py")?;
    let updated = boot_py(existing.as_deref());
    match (&existing, updated) {
        (_, None) => eprintln!("boot.py already joins the Wi-Fi network (left as it is)"),
        (None, Some(text)) => {
            put(repl, "boot.py", text.as_bytes())?;
            eprintln!("wrote boot.py: joins the Wi-Fi network at start (checked on the board)");
        }
        (Some(old), Some(text)) => {
            put(repl, "boot.py", text.as_bytes())?;
            eprintln!(
                "added to boot.py: joins the Wi-Fi network at start (its {} lines kept; checked on the board)",
                old.lines().count()
            );
        }
    }
    Ok(())
}

/// boot.py with the block added, or `None` when it has it already.
pub fn boot_py(existing: Option<&str>) -> Option<String> {
    match existing {
        Some(text) if text.lines().any(|l| l.starts_with(BOOT_MARK)) => None,
        Some(text) if text.is_empty() || text.ends_with('\n') => {
            Some(format!("{text}{BOOT_BLOCK}"))
        }
        Some(text) => Some(format!("{text}\n{BOOT_BLOCK}")),
        None => Some(BOOT_BLOCK.to_string()),
    }
}

/// A text file on the board (`None`: there is none), read as byte values (every port prints
/// those; the micro:bit's has no binascii).
fn read_file<P: Read + Write>(repl: &mut RawRepl<P>, name: &str) -> Result<Option<String>> {
    let code = format!(
        "try:\n f=open({},'rb')\nexcept OSError:\n print('-')\nelse:\n while 1:\n  b=f.read(64)\n  if not b:\n   break\n  print(' '.join([str(x) for x in b]))\n f.close()\n print('.')\n",
        str_literal(name)
    );
    let out = repl
        .exec(&code)
        .with_context(|| format!("reading {name} on the board"))?;
    if out.trim() == "-" {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    let mut ended = false;
    for line in out.lines() {
        if line.trim() == "." {
            ended = true;
            break;
        }
        for value in line.split_whitespace() {
            bytes.push(value.parse::<u8>().with_context(|| {
                format!("{name} as the board printed it: {value:?} is not a byte")
            })?);
        }
    }
    if !ended {
        bail!("{name} on the board: the listing ended early");
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{name} on the board is not UTF-8 text: left as it is"))
}

/// The configuration files, when options ask for them; `--config-reset` removes them.
fn write_config<P: Read + Write>(
    repl: &mut RawRepl<P>,
    config: &crate::config::ConfigArgs,
) -> Result<()> {
    if config.config_reset {
        repl.exec(
            "import os\nfor n in ('mreq_config.json','mreq_ca.der'):\n try:\n  os.remove(n)\n except OSError:\n  pass\n",
        )?;
        eprintln!("removed the configuration (mreq_config.json, mreq_ca.der)");
        return Ok(());
    }
    if !config.given() {
        return Ok(());
    }
    let password = match &config.wifi_ssid {
        Some(ssid) => config.wifi_password(ssid)?,
        None => String::new(),
    };
    if let Some(server) = &config.ntp {
        crate::config::check_ntp_server(server)?;
    }
    let certs = config.ca_certs()?;
    for (name, data) in config_files(
        config.wifi_ssid.as_deref(),
        &password,
        config.ntp.as_deref(),
        &certs,
    ) {
        put(repl, name, &data)?;
        eprintln!("wrote {name} ({} bytes, checked on the board)", data.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_py_gets_the_block_once_after_its_own_lines() {
        assert_eq!(boot_py(None).as_deref(), Some(BOOT_BLOCK));
        assert_eq!(boot_py(Some("")).as_deref(), Some(BOOT_BLOCK));
        let mine = "import esp\nesp.osdebug(None)";
        let added = boot_py(Some(mine)).unwrap();
        assert_eq!(added, format!("{mine}\n{BOOT_BLOCK}"));
        assert_eq!(boot_py(Some(&added)), None, "not added twice");
        assert_eq!(
            boot_py(Some("x = 1\n")).unwrap(),
            format!("x = 1\n{BOOT_BLOCK}")
        );
    }

    #[test]
    fn mpy_formats_of_boards_and_compilers() {
        let board = |mpy| Board {
            version: "1.22.2".into(),
            platform: "esp8266".into(),
            mpy,
        };
        // 1.22's ESP8266: v6, sub-version 2, xtensa (9) above.
        assert_eq!(board(6 | 2 << 8 | 9 << 10).mpy_format(), Some((6, 2)));
        assert_eq!(board(0).mpy_format(), None);
        assert!(board(0).at_least(1, 19) && board(0).at_least(1, 22) && !board(0).at_least(1, 23));
        assert_eq!(
            emitted_format("MicroPython v1.22.2 on 2024-02-24; mpy-cross emitting mpy v6.2\n"),
            Some((6, 2))
        );
        assert_eq!(emitted_format("mpy-cross emitting mpy v5"), Some((5, 0)));
        assert_eq!(emitted_format("MicroPython v1.9.2"), None);
    }

    #[test]
    fn compacting_keeps_the_code_and_the_modules_can_be_compacted() {
        let source = "# comment\ndef f(x):\n    # why\n\n    if x:\n        return [1,\n           2]  # end\n    return 0\n";
        assert_eq!(
            compact(source),
            "def f(x):\n if x:\n  return [1,\n           2]  # end\n return 0\n"
        );
        for (name, source) in MODULES {
            assert!(
                !source.contains("\"\"\"") && !source.contains("\'\'\'"),
                "{name}: a multi-line string would be changed by compact()"
            );
            assert!(!source.contains('\t'), "{name}: tabs");
        }
    }
}
