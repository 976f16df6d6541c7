//! curl's `--retry`: which failures earn another attempt, and how long to wait before it.
//! Transient by default: timeouts and the statuses 408, 429, 500, 502, 503, 504 (whose body is
//! not delivered while attempts remain); connection refusals with `--retry-connrefused`; any
//! failure with `--retry-all-errors`. The wait is `--retry-delay`, else the server's
//! `Retry-After`, else 1 s doubling up to 10 minutes; `--retry-max-time` ends the retries.

use crate::args::Args;
use crate::failure::{self, Failure};
use std::time::{Duration, Instant, SystemTime};

/// The longest backoff between attempts (curl's).
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The statuses curl retries.
pub fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

#[derive(Debug, Clone)]
pub struct Policy {
    left: u32,
    delay: Option<Duration>,
    max_time: Option<Duration>,
    connrefused: bool,
    all_errors: bool,
    started: Instant,
    backoff: Duration,
}

impl Policy {
    /// The policy of `--retry N` (`None` without it); the other retry flags need it.
    pub fn from_args(args: &Args) -> Result<Option<Policy>, Failure> {
        let Some(tries) = args.retry else {
            let given: Vec<&str> = [
                (args.retry_delay.is_some(), "--retry-delay"),
                (args.retry_max_time.is_some(), "--retry-max-time"),
                (args.retry_connrefused, "--retry-connrefused"),
                (args.retry_all_errors, "--retry-all-errors"),
            ]
            .iter()
            .filter(|(given, _)| *given)
            .map(|(_, name)| *name)
            .collect();
            if !given.is_empty() {
                return Err(Failure::new(
                    failure::USAGE,
                    format!("{} shape --retry N: give --retry too", given.join(", ")),
                ));
            }
            return Ok(None);
        };
        let seconds = |flag, value| crate::send::seconds(flag, value, 0.0);
        Ok(Some(Policy {
            left: tries,
            delay: seconds("--retry-delay", args.retry_delay)?,
            max_time: seconds("--retry-max-time", args.retry_max_time)?,
            connrefused: args.retry_connrefused,
            all_errors: args.retry_all_errors,
            started: Instant::now(),
            backoff: Duration::from_secs(1),
        }))
    }

    /// The same policy for the next URL, its clock started now.
    pub fn fresh(&self) -> Policy {
        Policy {
            started: Instant::now(),
            ..self.clone()
        }
    }

    fn can_retry(&self) -> bool {
        self.left > 0 && self.max_time.is_none_or(|max| self.started.elapsed() < max)
    }

    /// Whether a failure with this exit code earns another attempt (transient statuses are
    /// taken before their body is delivered, in `run`).
    pub fn retries(&self, code: u8) -> bool {
        if code == 0 || code == failure::USAGE || code == failure::INTERRUPTED {
            return false;
        }
        self.all_errors
            || code == failure::TIMEOUT
            || (self.connrefused && code == failure::CONNECT)
    }

    /// Takes an attempt: the wait before it (the server's `Retry-After` when there is no
    /// `--retry-delay`), or `None` when none is left or --retry-max-time has passed.
    pub fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if !self.can_retry() {
            return None;
        }
        let wait = match (self.delay, retry_after) {
            (Some(delay), _) => delay,
            (None, Some(after)) => after,
            (None, None) => {
                let wait = self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        // As curl: no retry once the limit has passed, and no wait beyond it.
        let wait = match self.max_time {
            Some(max) => wait.min(max.saturating_sub(self.started.elapsed())),
            None => wait,
        };
        self.left -= 1;
        Some(wait)
    }

    pub fn left(&self) -> u32 {
        self.left
    }
}

/// A `Retry-After` value: delay seconds, or an HTTP date (a past date: no wait).
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn policy(words: &[&str]) -> Policy {
        let args = Args::try_parse_from(std::iter::once("mreq").chain(words.iter().copied()))
            .expect("parses");
        Policy::from_args(&args)
            .expect("valid")
            .expect("--retry given")
    }

    #[test]
    fn what_is_retried() {
        let plain = policy(&["--retry", "2", "http://h/"]);
        assert!(plain.retries(failure::TIMEOUT));
        assert!(!plain.retries(failure::CONNECT));
        assert!(!plain.retries(22));
        assert!(!plain.retries(failure::USAGE));
        let refused = policy(&["--retry", "2", "--retry-connrefused", "http://h/"]);
        assert!(refused.retries(failure::CONNECT));
        let all = policy(&["--retry", "1", "--retry-all-errors", "http://h/"]);
        assert!(all.retries(22) && all.retries(failure::PROTOCOL));
        assert!(!all.retries(failure::INTERRUPTED));
    }

    #[test]
    fn waits_back_off_and_end() {
        let mut backoff = policy(&["--retry", "3", "http://h/"]);
        let waits: Vec<_> = std::iter::from_fn(|| backoff.next_wait(None)).collect();
        assert_eq!(waits, [1, 2, 4].map(Duration::from_secs));
        let mut fixed = policy(&["--retry", "2", "--retry-delay", "0.25", "http://h/"]);
        assert_eq!(
            fixed.next_wait(Some(Duration::from_secs(9))),
            Some(Duration::from_millis(250))
        );
        let mut server = policy(&["--retry", "2", "http://h/"]);
        assert_eq!(
            server.next_wait(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        let mut bounded = policy(&["--retry", "5", "--retry-max-time", "0.05", "http://h/"]);
        assert!(bounded
            .next_wait(None)
            .is_some_and(|w| w <= Duration::from_millis(50)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(bounded.next_wait(None), None, "the limit has passed");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }
}
