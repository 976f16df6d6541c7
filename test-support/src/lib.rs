//! Real servers on 127.0.0.1 for the integration tests of every crate (`publish = false`): used as
//! `use mreq_test_support as support;`.
//!
//! Two servers here, nginx in [`nginx`]:
//!
//! - [`Httpbin`]: Debian's `python3-httpbin` served by gunicorn (gthread worker, keep-alive,
//!   chunked `/stream/N`). [`httpbin()`] shares one server between all tests of a test binary.
//! - [`Hostile`]: a std-only Rust server answering deliberately broken or tricky responses, one
//!   route per case (see the route table on [`Hostile`]). [`hostile()`] shares one instance.
//!
//! Neither server outlives the test binary: the httpbin wrapper exits when its stdin (a pipe held
//! by the test process) reaches end of file or its parent process changes, and the hostile server
//! is a set of threads inside the test process.
//!
//! Only std; support code may `expect` with clear messages, wire data never panics a server thread.

pub mod board;
pub mod conformance;
pub mod nginx;
pub mod proxies;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// scratch directories
// ---------------------------------------------------------------------------------------------

/// A scratch directory, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty scratch directory named for the test and this process.
/// Runs `command` (then `after`) under a shell that stops it when our stdin pipe closes: when
/// the test process ends, however it ends, `read` returns and the server is stopped.
pub(crate) fn guarded(command: &str, after: &str) -> Child {
    let script = format!("{command} & pid=$!; read _; kill $pid; wait $pid; {after}");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    // The writer is leaked: the pipe stays open for the life of the process.
    if let Some(stdin) = child.stdin.take() {
        std::mem::forget(stdin);
    }
    child
}

/// Runs a program (curl, the built mreq) with these words and stdin from /dev/null.
pub fn run<S: AsRef<std::ffi::OsStr>>(program: &str, words: &[S]) -> std::process::Output {
    Command::new(program)
        .args(words)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// A port nothing listens on at the moment.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("mreq-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

// ---------------------------------------------------------------------------------------------
// httpbin
// ---------------------------------------------------------------------------------------------

/// How long [`Httpbin::start`] waits for the server to answer `GET /get`.
const HTTPBIN_START_TIMEOUT: Duration = Duration::from_secs(15);

/// The Python wrapper that runs httpbin under gunicorn in-process.
///
/// It binds 127.0.0.1:0 itself (no race for a free port), prints `PORT <n>` on stdout, hands the
/// socket to gunicorn as `fd://N`, and shuts the server down when the test process goes away:
/// either stdin (a pipe whose write end only the test process holds) reaches EOF, or the parent
/// pid changes. Shutdown is SIGINT to itself (gunicorn's quick shutdown, which also stops the
/// worker), with a hard `os._exit` 3 s later as a fallback. stdin is read with `os.read` on the
/// raw fd, never `sys.stdin`, so the forked worker does not inherit a held buffer lock.
const HTTPBIN_WRAPPER: &str = include_str!("httpbin_wrapper.py");

/// Debian's interpreter: `python3` on PATH may be another one (pyenv) without httpbin.
/// `MREQ_TEST_PYTHON` overrides.
fn python() -> String {
    if let Ok(p) = std::env::var("MREQ_TEST_PYTHON") {
        return p;
    }
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3".to_string()
    } else {
        "python3".to_string()
    }
}

/// A running httpbin (gunicorn, gthread worker with 8 threads, keep-alive 5 s) on 127.0.0.1.
pub struct Httpbin {
    pub port: u16,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Httpbin {
    /// Start a new server and wait until `GET /get` answers 200 (at most ~15 s, then panic with
    /// the server's stderr). Prefer [`httpbin()`], which shares one server per test binary.
    pub fn start() -> Httpbin {
        let mut child = Command::new(python())
            .arg("-c")
            .arg(HTTPBIN_WRAPPER)
            .arg("8")
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "could not run {} for httpbin: {e} (install python3-httpbin and \
                     python3-gunicorn: scripts/test.sh does)",
                    python()
                )
            });

        // Drain stderr for the whole life of the child (a full pipe would stall gunicorn); keep
        // the last 16 KiB for error messages.
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        if s.len() > 16 * 1024 {
                            let cut = s.len() - 16 * 1024;
                            let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                            s.drain(..cut);
                        }
                    }
                    line.clear();
                }
            });
        }

        // The first stdout line is `PORT <n>`; the rest is drained and dropped.
        let (tx, rx) = mpsc::channel::<u16>();
        if let Some(pipe) = child.stdout.take() {
            thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = String::new();
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    if let Some(port) = line.trim().strip_prefix("PORT ") {
                        if let Ok(port) = port.parse() {
                            let _ = tx.send(port);
                        }
                    }
                    line.clear();
                }
            });
        }

        let deadline = Instant::now() + HTTPBIN_START_TIMEOUT;
        let mut server = None;
        let mut port = None;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(200)); // let the stderr thread catch up
                panic!(
                    "httpbin exited before it was ready ({status}); stderr:\n{}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                );
            }
            if port.is_none() {
                port = rx.try_recv().ok();
            }
            if let Some(p) = port {
                if probe_httpbin(p) {
                    server = Some(p);
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let Some(port) = server else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "httpbin did not answer GET /get within {:?} (port {port:?}); stderr:\n{}",
                HTTPBIN_START_TIMEOUT,
                stderr.lock().map(|s| s.clone()).unwrap_or_default()
            );
        };
        Httpbin {
            port,
            child,
            stderr,
        }
    }

    /// `http://127.0.0.1:PORT{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:PORT`, for a `Host` header or a raw `TcpStream`.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What the server has written to stderr so far (last 16 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        // Closing stdin asks the wrapper for gunicorn's quick shutdown (which stops the worker
        // too); kill only if that has not happened within 3 s.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `GET /get` with `Connection: close`: true when the answer starts with `HTTP/1.1 200`.
fn probe_httpbin(port: u16) -> bool {
    let req = format!("GET /get HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    match raw_exchange_timeout(port, req.as_bytes(), Duration::from_secs(5)) {
        Ok(resp) => resp.starts_with(b"HTTP/1.1 200"),
        Err(_) => false,
    }
}

/// The httpbin server shared by every test of this test binary (started on first use).
pub fn httpbin() -> &'static Httpbin {
    static SERVER: OnceLock<Httpbin> = OnceLock::new();
    SERVER.get_or_init(Httpbin::start)
}

// ---------------------------------------------------------------------------------------------
// raw helpers
// ---------------------------------------------------------------------------------------------

/// Connect to 127.0.0.1:`port`, write `request` as is, and read until the server closes (or 10 s
/// pass without data). Send `Connection: close` to a keep-alive server, or this waits for its idle
/// timeout. Panics on a connect or write failure; a read timeout just ends the read.
pub fn raw_exchange(port: u16, request: &[u8]) -> Vec<u8> {
    raw_exchange_timeout(port, request, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("raw exchange with 127.0.0.1:{port} failed: {e}"))
}

fn raw_exchange_timeout(port: u16, request: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break, // e.g. reset after a complete answer
        }
    }
    Ok(out)
}

/// Split a raw response at the first `\r\n\r\n`: (head without the blank line, body).
pub fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (raw, &[]),
    }
}

// ---------------------------------------------------------------------------------------------
// hostile server
// ---------------------------------------------------------------------------------------------

/// The known body pattern used by the hostile routes: `abcdefghijklmnopqrstuvwxyzabc...` (byte
/// `i` is `b'a' + i % 26`), so an offset error shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// A deterministic, non-repeating body of `len` bytes (xorshift bytes seeded by the length), so a
/// moved, lost or repeated block changes its SHA-256. `/frame/...` routes serve it.
pub fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The framings `/frame/<framing>/<len>` serves [`noise`]`(len)` with.
pub const FRAMINGS: [&str; 6] = [
    "length",
    "chunked-1",
    "chunked-7",
    "chunked-65536",
    "close",
    "http10",
];

/// Length of the `/close-delimited` body (`pattern(CLOSE_DELIMITED_LEN)`).
pub const CLOSE_DELIMITED_LEN: usize = 1000;
/// The body `/chunked-trailers` decodes to.
pub const CHUNKED_TRAILERS_BODY: &str = "hello world";
/// Size of the `X-Big` value in `/huge-header`.
pub const HUGE_HEADER_LEN: usize = 1024 * 1024;
/// Number of `X-N` headers in `/many-headers`.
pub const MANY_HEADERS: usize = 10_000;
/// Number of `x` bytes after the status line in `/no-crlf`.
pub const NO_CRLF_LEN: usize = 64 * 1024;
/// How long `/stall-head` and `/stall-body` stall before closing.
pub const STALL: Duration = Duration::from_secs(5);
/// How long `/lying-length` keeps the connection open after its 20 bytes.
pub const LYING_LENGTH_HOLD: Duration = Duration::from_secs(2);
/// How long an idle `/keepalive` connection stays open.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);

/// Largest request head the hostile server reads (larger: 431 and close).
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// Connections served at once; further ones are closed at once.
const MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to send its (first) request head.
const FIRST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a request body the server reads and discards.
const MAX_REQUEST_BODY: u64 = 16 * 1024 * 1024;

/// A std-only HTTP server on 127.0.0.1 (and, best effort, on [::1] with the same port, so that
/// `localhost` works whichever address a client tries first) that answers broken or tricky
/// responses by request path (the query string is ignored). One thread per connection, at most
/// 256 at once; every route closes the connection after its answer except `/keepalive`.
/// Well-formed answers that are followed by a close carry `Connection: close`.
///
/// | path | bytes sent (`P` = [`Hostile::port`]) |
/// | --- | --- |
/// | `/lying-length` | `HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789ABCDEFGHIJ`, connection held 2 s, close |
/// | `/huge-header` | `HTTP/1.1 200 OK\r\nX-Big: ` + 1 MiB of `a` + `\r\nContent-Length: 0\r\n\r\n` |
/// | `/many-headers` | `HTTP/1.1 200 OK\r\n` + `X-N: 0\r\n` .. `X-N: 9999\r\n` + `Content-Length: 0\r\n\r\n` |
/// | `/no-crlf` | `HTTP/1.1 200 OK` + 64 KiB of `x`, no newline, close |
/// | `/loop` | `302`, `Location: /loop` |
/// | `/loop-abs` | `302`, `Location: http://127.0.0.1:P/loop-abs` |
/// | `/cross-host` | `302`, `Location: http://localhost:P/echo-auth` (another origin) |
/// | `/same-host-redirect` | `302`, `Location: /echo-auth` |
/// | `/https-downgrade` | `302`, `Location: http://127.0.0.1:P/get` |
/// | `/echo-auth` | `200`, body = the request's `Authorization` value or `none`; header `X-Got-Cookie` = its `Cookie` or `none` |
/// | `/stall-body` | `Content-Length: 100` + `pattern(10)`, 5 s of silence, close |
/// | `/stall-head` | `HTTP/1.1 200 OK\r\n`, 5 s of silence, close |
/// | `/close-delimited` | `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n` + `pattern(1000)`, close |
/// | `/keepalive` | `200`, body `conn=<id> req=<k>`; the connection stays open (idle 5 s) for more requests |
/// | `/raw/NAME`, and `/NAME` for a NAME no other route has | the bytes of case NAME of the conformance corpus (`conformance/responses.json`, [`conformance::responses`]), close; e.g. `/truncated`, `/chunked-trailers`, `/garbage`, `/interim` |
/// | `/frame/<framing>/<len>` | `200` with [`noise`]`(len)` framed as [`FRAMINGS`] says: `Content-Length`, chunks of 1, 7 or 65,536 bytes, close-delimited, or an HTTP/1.0 response without a length |
/// | anything else | `HTTP/1.1 404 Not Found`, `Content-Length: 9`, `not found` |
///
/// `<id>` numbers connections from 1 in accept order (server-wide); `<k>` numbers the requests on
/// one connection from 1, whatever their path.
pub struct Hostile {
    pub port: u16,
}

impl Hostile {
    /// Bind a free port on 127.0.0.1 and serve in background threads for the life of the test
    /// process. Prefer [`hostile()`], which shares one instance.
    pub fn start() -> Hostile {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .expect("hostile server: could not bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("hostile server: no local address")
            .port();
        let shared = Arc::new(ServerState {
            port,
            next_conn: AtomicU64::new(1),
            active: AtomicUsize::new(0),
        });
        // Best effort: `localhost` may resolve to ::1 first on some machines.
        if let Ok(v6) = TcpListener::bind(("::1", port)) {
            let state = Arc::clone(&shared);
            thread::Builder::new()
                .name("hostile-accept-v6".into())
                .spawn(move || accept_loop(v6, state))
                .expect("hostile server: could not spawn the accept thread");
        }
        let state = Arc::clone(&shared);
        thread::Builder::new()
            .name("hostile-accept".into())
            .spawn(move || accept_loop(listener, state))
            .expect("hostile server: could not spawn the accept thread");
        Hostile { port }
    }

    /// `http://127.0.0.1:PORT{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `127.0.0.1:PORT`, for a `Host` header or a raw `TcpStream`.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The hostile server shared by every test of this test binary (started on first use).
pub fn hostile() -> &'static Hostile {
    static SERVER: OnceLock<Hostile> = OnceLock::new();
    SERVER.get_or_init(Hostile::start)
}

struct ServerState {
    port: u16,
    next_conn: AtomicU64,
    active: AtomicUsize,
}

fn accept_loop(listener: TcpListener, state: Arc<ServerState>) {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => {
                // e.g. EMFILE: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if state.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            state.active.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let id = state.next_conn.fetch_add(1, Ordering::SeqCst);
        let conn_state = Arc::clone(&state);
        let spawned = thread::Builder::new()
            .name(format!("hostile-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, id, conn_state.port);
                conn_state.active.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            state.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A parsed request head.
struct RequestHead {
    method: String,
    /// Path without the query string.
    path: String,
    headers: Vec<(String, String)>,
}

impl RequestHead {
    /// All values of header `name` (case-insensitive), in order.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.values(name).next()
    }
}

enum HeadRead {
    Head(RequestHead),
    /// The client closed, timed out or sent nothing usable.
    Gone,
    /// Larger than [`MAX_REQUEST_HEAD`].
    TooLarge,
}

/// Reads request heads off one connection; bytes after a head stay in `buf` for the next one.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn read_head(&mut self) -> HeadRead {
        let mut scanned = 0;
        loop {
            if let Some(i) = find_blank_line(&self.buf, scanned) {
                let head: Vec<u8> = self.buf.drain(..i + 4).collect();
                return match parse_head(&head[..i]) {
                    Some(h) => HeadRead::Head(h),
                    None => HeadRead::Gone,
                };
            }
            if self.buf.len() > MAX_REQUEST_HEAD {
                return HeadRead::TooLarge;
            }
            scanned = self.buf.len().saturating_sub(3);
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return HeadRead::Gone,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return HeadRead::Gone,
            }
        }
    }

    /// Read and drop a `Content-Length` request body. False if it could not be skipped (chunked
    /// or a bad length or a read failure): the connection must then close.
    fn skip_body(&mut self, head: &RequestHead) -> bool {
        if head.first("transfer-encoding").is_some() {
            return false;
        }
        let mut left = match head.first("content-length") {
            None => return true,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n <= MAX_REQUEST_BODY => n,
                _ => return false,
            },
        };
        let buffered = (self.buf.len() as u64).min(left) as usize;
        self.buf.drain(..buffered);
        left -= buffered as u64;
        let mut chunk = [0u8; 8192];
        while left > 0 {
            let want = (chunk.len() as u64).min(left) as usize;
            match self.stream.read(&mut chunk[..want]) {
                Ok(0) => return false,
                Ok(n) => left -= n as u64,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        true
    }

    /// Write, ignoring errors (the client may have gone). True if everything was written.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok() && self.stream.flush().is_ok()
    }

    /// Graceful close: send FIN, then read (and drop) whatever the client still sends for up to
    /// 2 s, so unread request bytes do not turn the close into a reset that could destroy the
    /// response before the client has read it.
    fn close(self) {
        let Conn { stream, .. } = self;
        let _ = stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + Duration::from_secs(2);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut sink = [0u8; 8192];
        let mut reader = &stream;
        while Instant::now() < deadline {
            match reader.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }
}

fn find_blank_line(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + from)
}

fn parse_head(head: &[u8]) -> Option<RequestHead> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let path = target.split('?').next().unwrap_or(target).to_string();
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    Some(RequestHead {
        method,
        path,
        headers,
    })
}

/// What to do with the connection after a route has answered.
enum After {
    KeepOpen,
    Close,
}

fn serve_connection(stream: TcpStream, conn_id: u64, port: u16) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_read_timeout(Some(FIRST_HEAD_TIMEOUT));
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
    };
    let mut request_no = 0u64;
    loop {
        let head = match conn.read_head() {
            HeadRead::Head(h) => h,
            HeadRead::Gone => break,
            HeadRead::TooLarge => {
                conn.send(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                );
                break;
            }
        };
        request_no += 1;
        let body_skipped = conn.skip_body(&head);
        match route(&mut conn, &head, port, conn_id, request_no, body_skipped) {
            After::KeepOpen => {
                let _ = conn.stream.set_read_timeout(Some(KEEPALIVE_IDLE));
            }
            After::Close => break,
        }
    }
    conn.close();
}

fn redirect_302(location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The response of `/frame/<framing>/<len>` (a 400 for an unknown framing or length).
fn framed(spec: &str) -> Vec<u8> {
    let (framing, len) = spec.split_once('/').unwrap_or((spec, ""));
    let Ok(len) = len.parse::<usize>() else {
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec();
    };
    let body = noise(len);
    let chunk_size = match framing {
        "chunked-1" => 1,
        "chunked-7" => 7,
        "chunked-65536" => 65536,
        _ => 0,
    };
    let mut out = match framing {
        "length" => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        _ if chunk_size > 0 => b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec(),
        "close" => b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n".to_vec(),
        "http10" => b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec(),
        _ => return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    if chunk_size == 0 {
        out.extend_from_slice(&body);
        return out;
    }
    for chunk in body.chunks(chunk_size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// `/encoded/CODINGS/LEN[/cut|/corrupt]`: [`pattern`]`(LEN)` encoded with each of CODINGS in
/// turn (`gzip`, `deflate` (zlib), `rawdeflate` (sent as `deflate`, as some servers do), `zstd`,
/// joined with `+`), with a Content-Length for the encoded bytes; `cut` drops the encoded body's
/// last quarter and `corrupt` flips bytes in its middle, the HTTP framing still correct.
fn encoded(spec: &str) -> Vec<u8> {
    use std::io::Write as _;
    let parts: Vec<&str> = spec.split('/').collect();
    let (Some(codings), Some(len)) = (parts.first(), parts.get(1).and_then(|l| l.parse().ok()))
    else {
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec();
    };
    let mut body = pattern(len);
    let mut names = Vec::new();
    for coding in codings.split('+') {
        let level = flate2::Compression::fast();
        body = match coding {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                let _ = e.write_all(&body);
                e.finish().unwrap_or_default()
            }
            "deflate" => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                let _ = e.write_all(&body);
                e.finish().unwrap_or_default()
            }
            "rawdeflate" => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
                let _ = e.write_all(&body);
                e.finish().unwrap_or_default()
            }
            "zstd" => ruzstd::encoding::compress_to_vec(
                body.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
            other => other.as_bytes().to_vec(),
        };
        names.push(if coding == "rawdeflate" {
            "deflate"
        } else {
            coding
        });
    }
    match parts.get(2) {
        Some(&"cut") => body.truncate(body.len() * 3 / 4),
        Some(&"corrupt") => {
            let mid = body.len() / 2;
            for b in body.iter_mut().skip(mid).take(16) {
                *b ^= 0x5a;
            }
        }
        _ => {}
    }
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        names.join(", "),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// `/flaky/KEY/N/STATUS[/AFTER]`: the first N requests for KEY get STATUS (with
/// `Retry-After: AFTER` when given), later ones 200 with the attempt count; `/flaky/KEY/count`
/// tells how many requests KEY had. Keys let each test count its own attempts.
fn flaky(spec: &str) -> Vec<u8> {
    static SEEN: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    let parts: Vec<&str> = spec.split('/').collect();
    let respond = |status: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    match parts.as_slice() {
        [key, "count"] => {
            let count = seen.get(*key).copied().unwrap_or(0);
            respond("200 OK", "", &count.to_string())
        }
        [key, n, status, rest @ ..] => {
            let count = seen.entry(key.to_string()).or_insert(0);
            *count += 1;
            let failures: u32 = n.parse().unwrap_or(0);
            if *count > failures {
                return respond("200 OK", "", &format!("ok after {count}"));
            }
            let extra = match rest.first() {
                Some(after) => format!("Retry-After: {after}\r\n"),
                None => String::new(),
            };
            respond(
                &format!("{status} Flaky"),
                &extra,
                &format!("failure {count}"),
            )
        }
        _ => respond("400 Bad Request", "", "bad flaky spec"),
    }
}

fn route(
    conn: &mut Conn,
    head: &RequestHead,
    port: u16,
    conn_id: u64,
    request_no: u64,
    body_skipped: bool,
) -> After {
    let is_head = head.method.eq_ignore_ascii_case("HEAD");
    if let Some(spec) = head.path.strip_prefix("/frame/") {
        conn.send(&framed(spec));
        return After::Close;
    }
    if let Some(spec) = head.path.strip_prefix("/encoded/") {
        conn.send(&encoded(spec));
        return After::Close;
    }
    if let Some(spec) = head.path.strip_prefix("/flaky/") {
        conn.send(&flaky(spec));
        return After::Close;
    }
    // The corpus' cases, at /raw/NAME and (below) at /NAME where no route has that name.
    if let Some(case) = head
        .path
        .strip_prefix("/raw/")
        .and_then(conformance::response)
    {
        conn.send(&case.wire);
        return After::Close;
    }
    match head.path.as_str() {
        "/lying-length" => {
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789ABCDEFGHIJ");
            thread::sleep(LYING_LENGTH_HOLD);
        }
        "/huge-header" => {
            if conn.send(b"HTTP/1.1 200 OK\r\nX-Big: ") {
                let block = [b'a'; 16 * 1024];
                let mut sent = 0;
                while sent < HUGE_HEADER_LEN && conn.send(&block) {
                    sent += block.len();
                }
                if sent >= HUGE_HEADER_LEN {
                    conn.send(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
        "/many-headers" => {
            let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..MANY_HEADERS {
                out.extend_from_slice(format!("X-N: {i}\r\n").as_bytes());
            }
            out.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n\r\n");
            conn.send(&out);
        }
        "/no-crlf" => {
            let mut out = b"HTTP/1.1 200 OK".to_vec();
            out.resize(out.len() + NO_CRLF_LEN, b'x');
            conn.send(&out);
        }
        "/loop" => {
            conn.send(&redirect_302("/loop"));
        }
        "/loop-abs" => {
            conn.send(&redirect_302(&format!("http://127.0.0.1:{port}/loop-abs")));
        }
        "/cross-host" => {
            conn.send(&redirect_302(&format!("http://localhost:{port}/echo-auth")));
        }
        "/same-host-redirect" => {
            conn.send(&redirect_302("/echo-auth"));
        }
        "/https-downgrade" => {
            conn.send(&redirect_302(&format!("http://127.0.0.1:{port}/get")));
        }
        "/echo-auth" => {
            let auth = head.first("authorization").unwrap_or("none");
            let cookies: Vec<&str> = head.values("cookie").collect();
            let cookie = if cookies.is_empty() {
                "none".to_string()
            } else {
                cookies.join("; ")
            };
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nX-Got-Cookie: {cookie}\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                auth.len()
            )
            .into_bytes();
            if !is_head {
                out.extend_from_slice(auth.as_bytes());
            }
            conn.send(&out);
        }
        "/stall-body" => {
            let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
            out.extend_from_slice(&pattern(10));
            conn.send(&out);
            thread::sleep(STALL);
        }
        "/stall-head" => {
            conn.send(b"HTTP/1.1 200 OK\r\n");
            thread::sleep(STALL);
        }
        "/close-delimited" => {
            let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            out.extend_from_slice(&pattern(CLOSE_DELIMITED_LEN));
            conn.send(&out);
        }
        "/keepalive" => {
            let body = format!("conn={conn_id} req={request_no}");
            let close = !body_skipped
                || head
                    .values("connection")
                    .any(|v| v.eq_ignore_ascii_case("close"));
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
                body.len(),
                if close { "Connection: close\r\n" } else { "" }
            )
            .into_bytes();
            if !is_head {
                out.extend_from_slice(body.as_bytes());
            }
            if conn.send(&out) && !close {
                return After::KeepOpen;
            }
        }
        path => match conformance::response(path.get(1..).unwrap_or("")) {
            Some(case) => {
                conn.send(&case.wire);
            }
            None => {
                conn.send(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                );
            }
        },
    }
    After::Close
}
