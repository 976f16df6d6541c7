//! Debian's proxies on 127.0.0.1 for the CLI tests: tinyproxy (HTTP forwarding and CONNECT),
//! without and with a login, and microsocks (SOCKS5), without and with a login. Each stops
//! when the test process ends.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The user and password of the proxies that want a login.
pub const USER: &str = "proxyuser";
pub const PASSWORD: &str = "pass-word";

pub struct Proxies {
    /// tinyproxy, open.
    pub http: u16,
    /// tinyproxy with `BasicAuth USER PASSWORD`.
    pub http_auth: u16,
    /// microsocks, open.
    pub socks: u16,
    /// microsocks with `-u USER -P PASSWORD`.
    pub socks_auth: u16,
    _guards: Vec<Child>,
}

pub fn proxies() -> &'static Proxies {
    static PROXIES: OnceLock<Proxies> = OnceLock::new();
    PROXIES.get_or_init(start)
}

fn binary(name: &str) -> PathBuf {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed (scripts/setup.sh installs it)"))
}

fn start() -> Proxies {
    let dir = std::env::temp_dir().join(format!("mreq-proxies-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("proxy dir");
    let (http, http_auth) = (crate::free_port(), crate::free_port());
    let (socks, socks_auth) = (crate::free_port(), crate::free_port());
    let mut guards = Vec::new();
    for (port, login) in [(http, false), (http_auth, true)] {
        let conf = dir.join(format!("tinyproxy-{port}.conf"));
        let auth = if login {
            format!("BasicAuth {USER} {PASSWORD}\n")
        } else {
            String::new()
        };
        // No ConnectPort line: CONNECT to any port (the tests' https servers).
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Error\n{auth}"
            ),
        )
        .expect("tinyproxy config");
        guards.push(crate::guarded(
            &format!("{} -d -c {}", binary("tinyproxy").display(), conf.display()),
            "",
        ));
    }
    let microsocks = binary("microsocks");
    guards.push(crate::guarded(
        &format!("{} -i 127.0.0.1 -p {socks}", microsocks.display()),
        "",
    ));
    guards.push(crate::guarded(
        &format!(
            "{} -i 127.0.0.1 -p {socks_auth} -u {USER} -P '{PASSWORD}'",
            microsocks.display()
        ),
        "",
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    for port in [http, http_auth, socks, socks_auth] {
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "proxy on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Proxies {
        http,
        http_auth,
        socks,
        socks_auth,
        _guards: guards,
    }
}
