//! Debian's nginx on 127.0.0.1 for the CLI tests: plain http and https with a test CA and server
//! certificate generated here (rcgen), serving a 100 MB file. Stops when the test process ends.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIG_FILE: &str = "big.bin";
pub const BIG_LEN: usize = 100 * 1024 * 1024;
/// A file nginx sends gzip-compressed, at `/gz/GZ_FILE`.
pub const GZ_FILE: &str = "noise.txt";
pub const GZ_LEN: usize = 3 * 1024 * 1024 + 11;

pub struct Nginx {
    pub http_port: u16,
    pub https_port: u16,
    /// https with a self-signed certificate that says CA:TRUE (what `openssl req -x509` makes),
    /// `self_signed.pem`, used as the server's own.
    pub self_signed_port: u16,
    /// https that asks for a client certificate from the test CA (`client.pem`, `client.key`).
    pub mtls_port: u16,
    pub dir: PathBuf,
    _guard: Child,
}

impl Nginx {
    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// An https URL on `host` (`localhost` matches the certificate, `127.0.0.1` does not).
    pub fn https(&self, host: &str, path: &str) -> String {
        self.https_port_url(self.https_port, host, path)
    }

    pub fn https_port_url(&self, port: u16, host: &str, path: &str) -> String {
        format!("https://{host}:{port}{path}")
    }

    /// `/frame/...` of the hostile server, through nginx's https proxy (TLS for every framing;
    /// nginx re-frames what it passes on).
    pub fn https_frame(&self, path: &str) -> String {
        self.https("localhost", path)
    }

    pub fn self_signed_file(&self) -> PathBuf {
        self.dir.join("self_signed.pem")
    }

    /// The Unix sockets nginx also listens on: plain http, and https (`--unix-socket`).
    pub fn http_socket(&self) -> PathBuf {
        self.dir.join("http.sock")
    }

    pub fn https_socket(&self) -> PathBuf {
        self.dir.join("https.sock")
    }

    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn www(&self, name: &str) -> PathBuf {
        self.dir.join("www").join(name)
    }
}

pub fn nginx() -> &'static Nginx {
    static SERVER: OnceLock<Nginx> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (scripts/test.sh installs it)")
}

/// A byte pattern that is not all one value, so a misplaced block changes the checksum.
pub fn big_pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ ((i >> 16) as u8))
        .collect()
}

fn write_certificates(dir: &Path) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mreq test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let server_key = KeyPair::generate().expect("server key");
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server = server_params
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write CA");
    std::fs::write(dir.join("server.pem"), server.pem()).expect("write server certificate");
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).expect("write server key");
    // A client certificate from the same CA, for the server that asks for one (`mtls_port`).
    let client_key = KeyPair::generate().expect("client key");
    let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "mreq test client");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params
        .signed_by(&client_key, &ca)
        .expect("client certificate");
    std::fs::write(dir.join("client.pem"), client.pem()).expect("write client certificate");
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).expect("write client key");

    let own_key = KeyPair::generate().expect("self-signed key");
    let mut own_params =
        CertificateParams::new(vec!["localhost".to_string()]).expect("self-signed params");
    own_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    own_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let own = own_params
        .self_signed(&own_key)
        .expect("self-signed certificate");
    std::fs::write(dir.join("self_signed.pem"), own.pem()).expect("write self-signed");
    std::fs::write(dir.join("self_signed.key"), own_key.serialize_pem())
        .expect("write self-signed key");
}

fn start() -> Nginx {
    let dir = std::env::temp_dir().join(format!("mreq-nginx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).expect("nginx dir");
    std::fs::create_dir_all(dir.join("tmp")).expect("nginx tmp dir");
    write_certificates(&dir);
    std::fs::write(dir.join("www").join(BIG_FILE), big_pattern(BIG_LEN)).expect("big file");
    std::fs::write(dir.join("www").join("hello.txt"), "hello over tls\n").expect("hello file");
    // Served gzip-compressed under /gz/ (nginx's gzip on) when the client asks.
    std::fs::create_dir_all(dir.join("www").join("gz")).expect("gz dir");
    std::fs::write(
        dir.join("www").join("gz").join(GZ_FILE),
        crate::noise(GZ_LEN),
    )
    .expect("gz file");
    let (http_port, https_port, self_signed_port, mtls_port) = (
        crate::free_port(),
        crate::free_port(),
        crate::free_port(),
        crate::free_port(),
    );
    let hostile = crate::hostile().port;
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 128; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         types {{ application/octet-stream bin; text/plain txt; }}\n  sendfile on;\n  keepalive_timeout 5;\n\
         server {{ listen 127.0.0.1:{http_port}; listen unix:{d}/http.sock; root {d}/www; location /gz/ {{ gzip on; gzip_types *; gzip_min_length 0; }} }}\n\
         server {{ listen 127.0.0.1:{https_port} ssl; listen unix:{d}/https.sock ssl; server_name localhost; ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key; root {d}/www;\n           location /frame/ {{ proxy_pass http://127.0.0.1:{hostile}; proxy_buffering off; proxy_http_version 1.1; }} }}\n         server {{ listen 127.0.0.1:{self_signed_port} ssl; server_name localhost; ssl_certificate {d}/self_signed.pem; ssl_certificate_key {d}/self_signed.key; root {d}/www; }}\n         server {{ listen 127.0.0.1:{mtls_port} ssl; server_name localhost; ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key; ssl_client_certificate {d}/ca.pem; ssl_verify_client on; root {d}/www; }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).expect("nginx config");
    let mut guard = crate::guarded(
        &format!(
            "{} -e {d}/error.log -p {d} -c {d}/nginx.conf",
            nginx_binary().display()
        ),
        &format!("rm -rf {d}"),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", https_port)).is_err()
        || TcpStream::connect(("127.0.0.1", http_port)).is_err()
        || TcpStream::connect(("127.0.0.1", self_signed_port)).is_err()
        || TcpStream::connect(("127.0.0.1", mtls_port)).is_err()
    {
        if Instant::now() > deadline || matches!(guard.try_wait(), Ok(Some(_))) {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!("nginx did not start: {log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx {
        http_port,
        https_port,
        self_signed_port,
        mtls_port,
        dir,
        _guard: guard,
    }
}
