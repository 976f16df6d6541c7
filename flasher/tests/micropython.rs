//! `mreq-flash micropython` against a real MicroPython: Debian's MicroPython 1.9.2 for the BBC
//! micro:bit, booted in `qemu-system-arm -M microbit` with its UART on a pseudo-terminal. The
//! installer copies the URL helpers (what fits in the micro:bit's 16 KB of RAM), the board runs
//! them, and the answers must be CPython's `urllib.parse` answers. Line faults between the two (a
//! byte lost on the way) must end in an error, never in a reported success.

mod microbit;

use microbit::boot;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
fn install(port: &str, scripts: &[PathBuf]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mreq-flash"));
    command.args(["micropython", "--port", port, "--modules", "urlencode"]);
    for script in scripts {
        command.arg("--run").arg(script);
    }
    command.output().expect("run mreq-flash")
}

/// The checks the board runs, one small script each (the micro:bit compiles each in its 8 KB of
/// free RAM beside the module), that CPython runs too, with `urllib.parse` as `u`. Text that is
/// not ASCII is printed as UTF-8 bytes: MicroPython 1.9.2's repr() escapes it, CPython's does not.
const CHECKS: [&str; 8] = [
    r#"for s in ['a b', 'a+b&c=d', '/path/x y?q', '100%', '~-._']:
 print(repr(u.quote(s)), repr(u.quote(s, safe='')), repr(u.quote_plus(s)))
"#,
    r#"for s in ["it's", '\u00e9t\u00e9', '', 'x/y', '#frag']:
 print(repr(u.quote(s)), repr(u.quote(s, safe='')), repr(u.quote_plus(s)))
"#,
    r#"for s in ['a b', 'a+b&c=d', '100%', '\u00e9t\u00e9', '']:
 print(repr(bytes(u.unquote(u.quote(s)), 'utf-8')), repr(bytes(u.unquote_plus(u.quote_plus(s)), 'utf-8')))
"#,
    r#"print(repr(u.unquote('%41%2f%zz%')), repr(u.unquote_plus('a+b%20c')), repr(bytes(u.unquote('%e2%82%ac'), 'utf-8')))
"#,
    r#"print(repr(u.urlencode([('a', '1 2'), ('b', 'x&y'), ('c', '')])), repr(u.urlencode({'k': 'v/w'})))
"#,
    r#"print(repr(u.urlencode([('l', ['1', '2'])], True)), repr(u.urlencode([('s', 'a/b')], safe='/')))
"#,
    r#"print(repr(u.parse_qsl('a=1&b=2+3&c=%41&d')), repr(u.parse_qsl('a=1&d=', True)))
"#,
    r#"print(repr(u.parse_qsl('a=1;b=2', separator=';')), repr(u.parse_qs('a=1&a=2&b=3')))
"#,
];

fn cpython(header: &str) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(format!("{header}\n{}", CHECKS.concat()))
        .env("PYTHONPATH", Path::new(ROOT).join("firmware/micropython"))
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

#[test]
fn the_helpers_on_a_real_micropython_answer_as_cpython_does() {
    let board = boot();
    let scripts: Vec<PathBuf> = CHECKS
        .iter()
        .enumerate()
        .map(|(i, check)| {
            let path =
                std::env::temp_dir().join(format!("mreq-mp-check-{}-{i}.py", std::process::id()));
            std::fs::write(&path, format!("import urlencode as u\n{check}")).unwrap();
            path
        })
        .collect();
    let out = install(&board.pty, &scripts);
    for script in &scripts {
        let _ = std::fs::remove_file(script);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("MicroPython 1.9.2 on microbit")
            && stderr.contains("installed urlencode.py"),
        "{stderr}"
    );
    let on_board = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let reference = cpython("import urllib.parse as u");
    assert_eq!(on_board, reference, "the board's answers are not urllib's");
    assert_eq!(
        cpython("import urlencode as u"),
        reference,
        "the module under CPython"
    );
}

/// A pty standing between mreq-flash and the board, copying bytes both ways until mreq-flash
/// closes it; a byte mreq-flash sends is lost where `lose` holds for what was sent up to it. The
/// handle gives what mreq-flash sent; join it before the next relay opens the board's pty.
fn relay(
    board_pty: &str,
    mut lose: impl FnMut(&[u8]) -> bool + Send + 'static,
) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
    let mut host = std::fs::File::from(master);
    let mut host_back = host.try_clone().unwrap();
    let mut board = serialport::new(board_pty, 115_200)
        .timeout(Duration::from_millis(50))
        .open()
        .expect("open the board's pty");
    let mut board_back = board.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let host_done = done.clone();
    let forward = std::thread::spawn(move || {
        let mut sent = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = host.read(&mut buf) {
            for &byte in &buf[..n] {
                sent.push(byte);
                if !lose(&sent) && board.write_all(&[byte]).is_err() {
                    break;
                }
            }
        }
        host_done.store(true, Ordering::SeqCst);
        sent
    });
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while !done.load(Ordering::SeqCst) {
            match board_back.read(&mut buf) {
                Ok(n) if host_back.write_all(&buf[..n]).is_err() => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
    });
    let both = std::thread::spawn(move || {
        let _ = back.join();
        forward.join().unwrap_or_default()
    });
    (name, both)
}

/// A byte lost anywhere costs a command sent again, never a damaged file, a script run twice
/// or a failed install: inside a file's data, in the Ctrl-D that ends a raw-mode command, inside
/// the script's text, and in the Ctrl-D that runs it. Each is found by what was sent before it
/// (positions would move with the commands a loaded machine makes the installer send again).
#[test]
fn bytes_lost_on_the_line_are_sent_again_and_the_install_is_whole() {
    let board = boot();
    let source = "import urlencode\nprint(urlencode.quote('a b/c', safe=''))\n";
    let script = std::env::temp_dir().join(format!("mreq-mp-fault-{}.py", std::process::id()));
    std::fs::write(&script, source).unwrap();
    fn contains(sent: &[u8], what: &[u8]) -> bool {
        sent.windows(what.len()).any(|w| w == what)
    }
    let in_file = |sent: &[u8]| sent.ends_with(b"def quote_p");
    let raw_ctrl_d =
        move |sent: &[u8]| sent.ends_with(b"\x04") && contains(sent, b"def quote_plus");
    let in_script = |sent: &[u8]| sent.ends_with(b"urlencode.quo");
    let paste_ctrl_d = |sent: &[u8]| sent.ends_with(b"\x04") && contains(sent, b"urlencode.quote(");
    /// Whether to lose the byte that `sent` ends with.
    type Where = fn(&[u8]) -> bool;
    let cases: [(&str, Where); 4] = [
        ("in a file's data", in_file),
        ("the Ctrl-D of a raw-mode command", raw_ctrl_d),
        ("in the script", in_script),
        ("the Ctrl-D that runs the script", paste_ctrl_d),
    ];
    for (place, lose_here) in cases {
        let mut lost = false;
        let (port, relaying) = relay(&board.pty, move |sent| {
            let now = !lost && lose_here(sent);
            lost |= now;
            now
        });
        let out = install(&port, std::slice::from_ref(&script));
        let _ = relaying.join();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a byte lost {place}: {stderr}");
        assert!(
            stderr.contains("installed urlencode.py") && stderr.contains("were sent again"),
            "a byte lost {place}: {stderr}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
            "a%20b%2Fc\n",
            "a byte lost {place}: the script ran once, with the module whole"
        );
    }
    let _ = std::fs::remove_file(&script);
}

/// A line that keeps losing bytes ends in an error that says so, never in a reported success.
#[test]
fn a_line_that_keeps_losing_bytes_is_an_error_not_an_installed_module() {
    let board = boot();
    let script = std::env::temp_dir().join(format!("mreq-mp-lossy-{}.py", std::process::id()));
    std::fs::write(&script, "print('ran')\n").unwrap();
    // Past the REPL handshake and the identification, then one byte in every 150.
    let (port, relaying) = relay(&board.pty, |sent| {
        sent.len() > 1200 && sent.len() % 150 == 0
    });
    let out = install(&port, std::slice::from_ref(&script));
    let _ = relaying.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("urlencode.py") && stderr.contains("kept missing bytes"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
    let _ = std::fs::remove_file(&script);
}

#[test]
fn the_client_is_refused_on_a_micropython_too_old_for_it() {
    let board = boot();
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["micropython", "--port", &board.pty])
        .output()
        .expect("run mreq-flash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("mrequests needs MicroPython 1.19 or later")
            && stderr.contains("runs 1.9.2")
            && stderr.contains("--modules urlencode"),
        "{stderr}"
    );
    assert!(!stderr.contains("installed"), "{stderr}");
}

#[test]
fn a_port_where_no_micropython_answers_is_a_clear_error() {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
    let mut silent = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while matches!(silent.read(&mut buf), Ok(n) if n > 0) {}
    });
    let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
        .args(["micropython", "--port", &name])
        .output()
        .expect("run mreq-flash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no MicroPython REPL answers on"),
        "{stderr}"
    );
}

/// `--boot` on a real MicroPython: boot.py gets the two lines that join the Wi-Fi network after
/// the user's own, which stay, and a second install adds nothing.
#[test]
fn boot_py_keeps_the_users_lines_and_is_added_to_once() {
    let board = boot();
    let script = |name: &str, code: &str| {
        let path = std::env::temp_dir().join(format!("mreq-mp-{name}-{}.py", std::process::id()));
        std::fs::write(&path, code).unwrap();
        path
    };
    let users = script(
        "users-boot",
        "f=open('boot.py','w')\nf.write('# mine\\nx = 1')\nf.close()\n",
    );
    let show = script("show-boot", "print(open('boot.py').read())\n");
    let run = |extra: &[&str], script: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_mreq-flash"))
            .args([
                "micropython",
                "--port",
                &board.pty,
                "--modules",
                "mreq_wifi",
            ])
            .args(extra)
            .arg("--run")
            .arg(script)
            .output()
            .expect("run mreq-flash");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (
            String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"),
            stderr,
        )
    };
    run(&[], &users);
    let (first, said) = run(&["--boot"], &show);
    assert!(
        said.contains("added to boot.py") && said.contains("its 2 lines kept"),
        "{said}"
    );
    let expected = format!("# mine\nx = 1\n{}\n", mreq_flash_boot_block());
    assert_eq!(first, expected);
    let (second, said) = run(&["--boot"], &show);
    assert!(said.contains("already joins"), "{said}");
    assert_eq!(second, expected, "nothing added twice");
    for path in [users, show] {
        let _ = std::fs::remove_file(path);
    }
}

/// The block `--boot` adds, as the module's README shows it.
fn mreq_flash_boot_block() -> &'static str {
    "# mreq-flash --boot: join the Wi-Fi network of mreq_config.json\nimport mreq_wifi\nmreq_wifi.connect()\n"
}
