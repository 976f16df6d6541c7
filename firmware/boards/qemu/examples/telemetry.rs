//! Your own firmware on the QEMU board: a reading posted as JSON every `EVERY_MS`, settings
//! fetched as JSON every few posts and acted on, retries with exponential backoff, and it keeps
//! going through network or server loss.
//!
//! Configuration (`mreq-flash --board qemu --app-setting SERVER=http://10.0.2.2:8080 ...`):
//! `SERVER` (required) receives `POST /readings` and answers `GET /settings` with
//! `{"every_ms": N}`; `EVERY_MS` is the interval until the server says otherwise (default 1000).
//! Build: `cargo build --release --example telemetry` in `firmware/boards/qemu`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use embassy_futures::join::join;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use mreq_board_qemu::{block_on, exit::qemu_exit, println, start, BOARD};
use mreq_fw::http::{read_to_end, Http, HttpState, ENGINE_BUF};
use mreq_fw::mreq_core::client::Request;
use mreq_fw::mreq_fwconfig::Config;
use serde::{Deserialize, Serialize};

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

#[riscv_rt::entry]
fn main() -> ! {
    let mut board = start();
    let config = Config::parse(board.config_block).ok();
    let (never, _) = block_on(join(board.runner.run(), telemetry(board.stack, config)));
    never
}

async fn telemetry(stack: Stack<'static>, config: Option<Config<'static>>) -> ! {
    let setting = |name| config.as_ref().and_then(|c| c.app_setting(name));
    let Some(server) = setting("SERVER") else {
        println!("telemetry: no SERVER setting (mreq-flash --app-setting SERVER=http://HOST:PORT)");
        qemu_exit(2)
    };
    let mut every = match setting("EVERY_MS").map(str::parse::<u32>) {
        None => 1000,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            println!("telemetry: EVERY_MS is not a number of milliseconds");
            qemu_exit(2)
        }
    };
    let (mut readings, mut settings) = (
        heapless::String::<160>::new(),
        heapless::String::<160>::new(),
    );
    if write!(readings, "{server}/readings").is_err()
        || write!(settings, "{server}/settings").is_err()
    {
        println!("telemetry: SERVER is longer than 150 bytes");
        qemu_exit(2)
    }
    println!("telemetry: posting to {readings} every {every} ms");
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
                    println!("telemetry: settings: every_ms {every}");
                }
                Ok(_) => {}
                Err(why) => println!("telemetry: settings: {why}; keeping every_ms {every}"),
            }
        }
        post_until_delivered(&mut http, &readings, seq).await;
        Timer::after(Duration::from_millis(u64::from(every))).await;
    }
}

/// Posts reading `seq` until the server takes it: a 2xx. A 4xx means the server will never take
/// it (said, and the next reading goes on); anything else is retried with backoff.
async fn post_until_delivered(http: &mut Http<'_>, url: &str, seq: u32) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let (heap_peak, stack_peak) = ((BOARD.heap)().1, (BOARD.stack_peak)());
        let reading = Reading {
            seq,
            uptime_ms: Instant::now().as_millis(),
            heap_peak,
            stack_peak,
        };
        let mut body = [0u8; 128];
        let outcome = match mreq_fw::json::to_slice(&reading, &mut body) {
            Ok(json) => post(http, url, json).await,
            Err(_) => Err(Failure::Text(
                "the reading does not fit its 128-byte buffer",
            )),
        };
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                println!("telemetry: seq {seq} posted ({status}); heap peak {heap_peak} B, stack peak {stack_peak} B");
                return;
            }
            Ok(status) if (400..500).contains(&status) => {
                println!("telemetry: seq {seq} refused ({status}); not retried");
                return;
            }
            Ok(status) => println!(
                "telemetry: seq {seq}: status {status}; retry in {} ms",
                backoff.as_millis()
            ),
            Err(why) => println!(
                "telemetry: seq {seq}: {why}; retry in {} ms",
                backoff.as_millis()
            ),
        }
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
    Ok(mreq_fw::json::read(&mut response, &mut body).await?)
}

/// Why a request did not deliver, said in the console line.
enum Failure {
    Http(mreq_fw::mreq_core::Error),
    Body(mreq_fw::http::BodyError),
    Status(u16),
    Text(&'static str),
}

impl From<mreq_fw::mreq_core::Error> for Failure {
    fn from(err: mreq_fw::mreq_core::Error) -> Self {
        Failure::Http(err)
    }
}

impl From<mreq_fw::http::BodyError> for Failure {
    fn from(err: mreq_fw::http::BodyError) -> Self {
        Failure::Body(err)
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Http(err) => err.fmt(f),
            Failure::Body(err) => err.fmt(f),
            Failure::Status(status) => write!(f, "status {status}"),
            Failure::Text(text) => f.write_str(text),
        }
    }
}
