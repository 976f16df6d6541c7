//! The application example every board can run instead of the shell (board feature
//! `telemetry`; on QEMU, `examples/telemetry.rs`): a reading posted as JSON every `EVERY_MS`,
//! settings fetched as JSON every few posts and acted on, retries with exponential backoff, and
//! it keeps going through network or server loss. It uses only the public API ([`crate::http`],
//! [`crate::json`]), as your own firmware would.
//!
//! Configuration (`mreq-flash --board B --app-setting SERVER=http://10.0.2.2:8080 ...`):
//! `SERVER` (required) receives `POST /readings` and answers `GET /settings` with
//! `{"every_ms": N}`; `EVERY_MS` is the interval until the server says otherwise (default 1000).

use core::fmt::Write as _;

use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use embedded_io_async::{Read, Write};
use mreq_core::client::Request;
use mreq_fwconfig::Config;
use serde::{Deserialize, Serialize};

use crate::console::Console;
use crate::http::{read_to_end, BodyError, Http, HttpState, ENGINE_BUF};
use crate::{say, BoardInfo};

/// Settings are fetched with the first post and then every this many posts.
const SETTINGS_EVERY: u32 = 5;
/// The first retry waits this long, each next one twice as long, up to `BACKOFF_MAX`.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_millis(3200);

/// What is posted: a counter, the uptime and the memory high-water marks.
#[derive(Serialize)]
struct Reading {
    seq: u32,
    uptime_ms: u64,
    heap_peak: usize,
    stack_peak: usize,
}

/// What the server says to do (fields it adds are ignored).
#[derive(Deserialize)]
struct Settings {
    every_ms: u32,
}

/// Runs the example on a network stack, saying what it does on the console. Never returns; with
/// no usable `SERVER` it says why and waits.
pub async fn run<S: Read + Write>(
    stack: Stack<'_>,
    serial: &mut S,
    config_block: &[u8],
    board: &BoardInfo,
) -> ! {
    let mut console = Console::new(serial);
    let config = Config::parse(config_block).ok();
    let setting = |name| config.as_ref().and_then(|c| c.app_setting(name));
    let every = match setting("EVERY_MS").map(str::parse::<u32>) {
        None => Some(1000),
        Some(Ok(ms)) => Some(ms),
        Some(Err(_)) => None,
    };
    let (mut readings, mut settings) = (
        heapless::String::<160>::new(),
        heapless::String::<160>::new(),
    );
    let problem = match (setting("SERVER"), every) {
        (None, _) => Some("no SERVER setting (mreq-flash --app-setting SERVER=http://HOST:PORT)"),
        (_, None) => Some("EVERY_MS is not a number of milliseconds"),
        (Some(server), _) => (write!(readings, "{server}/readings").is_err()
            || write!(settings, "{server}/settings").is_err())
        .then_some("SERVER is longer than 150 bytes"),
    };
    let (Some(mut every), None) = (every, problem) else {
        let _ = say!(
            console,
            "telemetry: {}\r\n",
            problem.unwrap_or("bad settings")
        );
        loop {
            core::future::pending::<()>().await;
        }
    };
    let _ = say!(
        console,
        "telemetry: posting to {readings} every {every} ms\r\n"
    );
    stack.wait_config_up().await;

    let state = HttpState::new(config.as_ref());
    let pool = state.pool(stack);
    let mut http = Http::new(stack, &state, &pool);
    let mut seq = 0;
    loop {
        seq += 1;
        if seq % SETTINGS_EVERY == 1 {
            match fetch_settings(&mut http, &settings).await {
                Ok(new) if new.every_ms != every => {
                    every = new.every_ms;
                    let _ = say!(console, "telemetry: settings: every_ms {every}\r\n");
                }
                Ok(_) => {}
                Err(why) => {
                    let _ = say!(
                        console,
                        "telemetry: settings: {why}; keeping every_ms {every}\r\n"
                    );
                }
            }
        }
        post_until_delivered(&mut http, &mut console, board, &readings, seq).await;
        Timer::after(Duration::from_millis(u64::from(every))).await;
    }
}

/// Posts reading `seq` until the server takes it: a 2xx. A 4xx means the server will never take
/// it (said, and the next reading goes on); anything else is retried with backoff.
async fn post_until_delivered<S: Read + Write>(
    http: &mut Http<'_>,
    console: &mut Console<'_, S>,
    board: &BoardInfo,
    url: &str,
    seq: u32,
) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let (heap_peak, stack_peak) = ((board.heap)().1, (board.stack_peak)());
        let reading = Reading {
            seq,
            uptime_ms: Instant::now().as_millis(),
            heap_peak,
            stack_peak,
        };
        let mut body = [0u8; 128];
        let outcome = match crate::json::to_slice(&reading, &mut body) {
            Ok(json) => post(http, url, json).await,
            Err(_) => Err(Failure::Text(
                "the reading does not fit its 128-byte buffer",
            )),
        };
        let _ = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                let _ = say!(
                    console,
                    "telemetry: seq {seq} posted ({status}); heap peak {heap_peak} B, stack peak {stack_peak} B\r\n"
                );
                return;
            }
            Ok(status) if (400..500).contains(&status) => {
                let _ = say!(
                    console,
                    "telemetry: seq {seq} refused ({status}); not retried\r\n"
                );
                return;
            }
            Ok(status) => say!(
                console,
                "telemetry: seq {seq}: status {status}; retry in {} ms\r\n",
                backoff.as_millis()
            ),
            Err(why) => say!(
                console,
                "telemetry: seq {seq}: {why}; retry in {} ms\r\n",
                backoff.as_millis()
            ),
        };
        Timer::after(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// The status of one POST, its (small) answer read to the end so the connection can be reused.
async fn post(http: &mut Http<'_>, url: &str, json: &[u8]) -> Result<u16, Failure> {
    let mut buf = [0u8; ENGINE_BUF];
    let mut response = http
        .send(&Request::post(url).json_body(json), &mut buf)
        .await?;
    let status = response.status();
    let mut answer = [0u8; 256];
    read_to_end(&mut response, &mut answer).await?;
    Ok(status)
}

async fn fetch_settings(http: &mut Http<'_>, url: &str) -> Result<Settings, Failure> {
    let mut buf = [0u8; ENGINE_BUF];
    let mut response = http.send(&Request::get(url), &mut buf).await?;
    if response.status() != 200 {
        return Err(Failure::Status(response.status()));
    }
    let mut body = [0u8; 512];
    Ok(crate::json::read(&mut response, &mut body).await?)
}

/// Why a request did not deliver, said in the console line.
enum Failure {
    Body(BodyError),
    Status(u16),
    Text(&'static str),
}

impl From<mreq_core::Error> for Failure {
    fn from(err: mreq_core::Error) -> Self {
        Failure::Body(BodyError::Http(err))
    }
}

impl From<BodyError> for Failure {
    fn from(err: BodyError) -> Self {
        Failure::Body(err)
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Body(err) => err.fmt(f),
            Failure::Status(status) => write!(f, "status {status}"),
            Failure::Text(text) => f.write_str(text),
        }
    }
}
