//! The wall clock: Unix time, known only after an SNTP server answered (see [`crate::sntp`]).
//!
//! Boards have no battery-backed clock the app can trust, so the clock starts unknown and TLS
//! refuses to check certificate dates against a guess. Once set, it runs on embassy-time's
//! monotonic counter. It does not slew or drift-correct: a later SNTP answer simply replaces it.

use core::cell::Cell;
use core::fmt;

use critical_section::Mutex;
use embassy_time::Instant;

/// `(unix milliseconds, embassy milliseconds)` at the moment the clock was set.
static ANCHOR: Mutex<Cell<Option<(u64, u64)>>> = Mutex::new(Cell::new(None));

/// Sets the clock to `unix_ms` (milliseconds since 1970-01-01 UTC) as of now.
pub fn set(unix_ms: u64) {
    let now = Instant::now().as_millis();
    critical_section::with(|cs| ANCHOR.borrow(cs).set(Some((unix_ms, now))));
}

/// Milliseconds since 1970-01-01 UTC, or `None` while no time source has answered.
pub fn unix_ms() -> Option<u64> {
    let (unix, at) = critical_section::with(|cs| ANCHOR.borrow(cs).get())?;
    Some(unix + Instant::now().as_millis().saturating_sub(at))
}

/// A Unix time in seconds, shown as `2026-11-26 07:40:12 UTC`.
pub struct Utc(pub u64);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(Utc(0).to_string(), "1970-01-01 00:00:00 UTC");
        // `date -u -d @1795677612`
        assert_eq!(Utc(1_795_677_612).to_string(), "2026-11-26 07:20:12 UTC");
        // A leap day and the day after.
        assert_eq!(Utc(951_782_400).to_string(), "2000-02-29 00:00:00 UTC");
        assert_eq!(Utc(951_868_799).to_string(), "2000-02-29 23:59:59 UTC");
        assert_eq!(Utc(951_868_800).to_string(), "2000-03-01 00:00:00 UTC");
    }
}
