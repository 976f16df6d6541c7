//! https in firmware through Mbed TLS (the `mbedtls-rs` crate), for boards whose core has no
//! atomic compare-and-swap (thumbv6m, riscv32imc), where rustls cannot build. The same interface
//! as the rustls backend (`tls.rs`): [`TlsSettings`] from the configuration block, a
//! [`TlsStream`] that is an `embedded_io_async` connection, the same error kinds.
//!
//! - Certificate chain and host name are verified by Mbed TLS (`AuthMode::Required`).
//! - Certificate dates are checked: Mbed TLS is built with `MBEDTLS_HAVE_TIME_DATE` and asks
//!   [`crate::clock`] (set by SNTP) through the wall-clock hook; while the clock is unset the
//!   handshake is refused before it starts, and Mbed TLS itself fails closed without a date.
//! - Randomness: the board's hardware RNG registered with [`crate::register_rng!`]; a failed
//!   read ends the connection before any data is sent.
//!
//! Mbed TLS allocates its state with the C library's `calloc`/`free`: about 40 KiB per
//! connection with 16 KiB record buffers, plus the parsed CA certificates.

// On a board, the C library functions Mbed TLS calls (see Cargo.toml).
#[cfg(target_os = "none")]
use tinyrlibc as _;

use alloc::ffi::CString;
use alloc::string::String;
use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, Ordering};

use embedded_io_async::{Read, Write};
use mbedtls_rs::sys::hook::timer::{hook_timer, MbedtlsTimer};
use mbedtls_rs::sys::hook::wall_clock::{hook_wall_clock, MbedtlsWallClock};
use mbedtls_rs::{
    AuthMode, Certificate, ClientSessionConfig, Session, SessionConfig, SessionError, Tls,
    TlsVersion, X509,
};
use mreq_core::error::IoErrorKind;
use mreq_core::Error;
use mreq_fwconfig::Config;

/// The TLS connection type over `T` (the rustls backend's has no lifetime).
pub type TlsOver<'s, T> = TlsStream<'s, T>;

/// What the configuration block says about TLS, parsed once.
pub struct TlsSettings {
    ca: Result<Option<Certificate<'static>>, Error>,
    insecure: bool,
}

/// Mbed TLS allows one `Tls` at a time: made once, with the board's RNG, for every settings.
static TLS: embassy_sync::once_lock::OnceLock<Result<Tls<'static>, Error>> =
    embassy_sync::once_lock::OnceLock::new();

fn library() -> Result<&'static Tls<'static>, Error> {
    TLS.get_or_init(|| {
        // SAFETY: the hooks are 'static values that only read the clocks.
        unsafe {
            hook_wall_clock(Some(&WallClock));
            hook_timer(Some(&Timer));
        }
        Tls::new(alloc::boxed::Box::leak(alloc::boxed::Box::new(BoardRng)))
            .map_err(|e| Error::tls(format_args!("Mbed TLS did not start: {e:?}")))
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl TlsSettings {
    /// Parses the block's CA certificates. A bad certificate makes every https request fail with
    /// that reason, rather than silently trusting fewer roots.
    pub fn new(block: Option<&Config<'_>>) -> Self {
        let insecure = block.is_some_and(|c| c.tls_insecure());
        TlsSettings {
            ca: if insecure {
                Ok(None)
            } else {
                trust_anchors(block).map(Some)
            },
            insecure,
        }
    }

    /// Connects TLS over `io` to `host` (a DNS name or an IP address, as in the URL).
    pub async fn connect<T: Read + Write>(
        &self,
        io: T,
        host: &str,
    ) -> Result<TlsStream<'_, T>, Error> {
        let tls = library()?;
        let ca = self.ca.clone()?;
        if crate::clock::unix_ms().is_none() {
            return Err(Error::tls(format_args!(
                "no time: no SNTP server answered, so certificate dates cannot be checked"
            )));
        }
        let name = CString::new(host)
            .map_err(|_| Error::tls(format_args!("the host is not a valid TLS server name")))?;
        let config = ClientSessionConfig {
            ca_chain: ca,
            auth_mode: if self.insecure {
                AuthMode::None
            } else {
                AuthMode::Required
            },
            min_version: TlsVersion::Tls1_2,
            ..ClientSessionConfig::new()
        };
        // A board without a working RNG sends nothing: asked first, and watched during the
        // handshake (Mbed TLS cannot be told of a failed read).
        if getrandom::getrandom(&mut [0u8; 1]).is_err() {
            return Err(no_random_bytes());
        }
        RNG_FAILED.store(false, Ordering::Relaxed);
        let mut session = Session::new(tls.reference(), io, &SessionConfig::Client(config))
            .map_err(|e| failure(e, 0))?;
        session.set_server_name(&name).map_err(|e| failure(e, 0))?;
        let handshake = session.connect().await;
        if RNG_FAILED.load(Ordering::Relaxed) {
            return Err(no_random_bytes());
        }
        handshake.map_err(|e| failure(e, session.tls_verification_details()))?;
        Ok(TlsStream { session })
    }
}

fn no_random_bytes() -> Error {
    Error::tls(format_args!(
        "failed to get random bytes: the board's RNG did not answer"
    ))
}

/// The block's CA certificates as one chain: Mbed
/// TLS parses a PEM bundle into a chain, so the DER certificates go as PEM.
fn trust_anchors(block: Option<&Config<'_>>) -> Result<Certificate<'static>, Error> {
    let mut pem = String::new();
    for der in block.iter().flat_map(|c| c.ca_certs()) {
        pem_block(der, &mut pem);
    }
    if pem.is_empty() {
        return Err(Error::certificate(format_args!(
            "no trusted CA certificates (write some with mreq-flash --cacert FILE)"
        )));
    }
    let text = CString::new(pem)
        .map_err(|_| Error::certificate(format_args!("bad CA certificate in the configuration")))?;
    Certificate::new(X509::PEM(&text)).map_err(|e| {
        Error::certificate(format_args!(
            "bad CA certificate in the configuration (Mbed TLS error -0x{:04x})",
            -e.code()
        ))
    })
}

/// One certificate as a PEM block.
fn pem_block(der: &[u8], out: &mut String) {
    let mut text = String::new();
    // A String takes all of it.
    let _ = mreq_core::auth::base64_encode(der.iter().copied(), &mut text);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(core::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
}

/// Mbed TLS's verification flags (`MBEDTLS_X509_BADCERT_*`) in words.
fn certificate_problem(flags: u32) -> &'static str {
    const EXPIRED: u32 = 0x01;
    const REVOKED: u32 = 0x02;
    const CN_MISMATCH: u32 = 0x04;
    const NOT_TRUSTED: u32 = 0x08;
    const FUTURE: u32 = 0x200;
    if flags & NOT_TRUSTED != 0 {
        "certificate not trusted: issued by an unknown CA (UnknownIssuer)"
    } else if flags & CN_MISMATCH != 0 {
        "certificate not valid for name"
    } else if flags & EXPIRED != 0 {
        "certificate expired"
    } else if flags & FUTURE != 0 {
        "certificate not valid yet"
    } else if flags & REVOKED != 0 {
        "certificate revoked"
    } else {
        "certificate refused"
    }
}

fn failure(err: SessionError, flags: u32) -> Error {
    const CERT_VERIFY_FAILED: i32 = -0x2700;
    const UNEXPECTED_MESSAGE: i32 = -0x7700;
    match err {
        SessionError::MbedTls(e) if e.code() == CERT_VERIFY_FAILED || flags != 0 => {
            Error::certificate(format_args!(
                "{} (Mbed TLS flags 0x{flags:x})",
                certificate_problem(flags)
            ))
        }
        SessionError::MbedTls(e) if e.code() == UNEXPECTED_MESSAGE => Error::tls(format_args!(
            "the server sent a TLS message Mbed TLS does not take (a TLS 1.3 KeyUpdate, or a renegotiation)"
        )),
        SessionError::MbedTls(e) => {
            Error::tls(format_args!("Mbed TLS error -0x{:04x}", -e.code()))
        }
        SessionError::Io(kind) => Error::Io(io_kind(kind)),
    }
}

fn io_kind(kind: embedded_io::ErrorKind) -> IoErrorKind {
    use embedded_io::ErrorKind as K;
    match kind {
        K::TimedOut => IoErrorKind::TimedOut,
        K::ConnectionRefused => IoErrorKind::ConnectionRefused,
        // A TCP end without close_notify: the data may have been cut, so it is not an end.
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::NotConnected => {
            IoErrorKind::ConnectionAborted
        }
        _ => IoErrorKind::Other,
    }
}

/// A TLS connection over `T`: read and write plaintext.
pub struct TlsStream<'s, T: Read + Write> {
    session: Session<'s, T>,
}

impl<T: Read + Write> TlsStream<'_, T> {
    /// `TLSv1_3 MbedTLS`: the version the handshake agreed on (the suite is not exposed).
    pub fn describe(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        match self.session.tls_version() {
            Some(TlsVersion::Tls1_3) => out.write_str("TLSv1_3 MbedTLS"),
            Some(TlsVersion::Tls1_2) => out.write_str("TLSv1_2 MbedTLS"),
            _ => Ok(()),
        }
    }
}

impl<T: Read + Write> embedded_io_async::ErrorType for TlsStream<'_, T> {
    type Error = Error;
}

impl<T: Read + Write> Read for TlsStream<'_, T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.session.read(buf).await.map_err(|e| failure(e, 0))
    }
}

impl<T: Read + Write> Write for TlsStream<'_, T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.session.write(buf).await.map_err(|e| failure(e, 0))
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.session.flush().await.map_err(|e| failure(e, 0))
    }
}

/// Set when the board's RNG failed during a handshake: that connection is then refused.
static RNG_FAILED: AtomicBool = AtomicBool::new(false);

/// The board's RNG (getrandom's custom backend, registered with [`crate::register_rng!`]).
struct BoardRng;

impl rand_core_010::TryRng for BoardRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if getrandom::getrandom(dst).is_err() {
            // Mbed TLS cannot be told; the connection is refused after the handshake returns,
            // before any data goes out.
            RNG_FAILED.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl rand_core_010::TryCryptoRng for BoardRng {}

/// Mbed TLS asks this for the date when it checks a certificate's validity.
struct WallClock;

impl MbedtlsWallClock for WallClock {
    fn instant(&self) -> Option<mbedtls_rs::sys::tm> {
        let secs = crate::clock::unix_ms()? / 1000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        // SAFETY: `tm` is a plain C struct; all-zero is a valid value.
        let mut tm: mbedtls_rs::sys::tm = unsafe { core::mem::zeroed() };
        tm.tm_year = (year - 1900) as _;
        tm.tm_mon = (month - 1) as _;
        tm.tm_mday = day as _;
        tm.tm_hour = (rem / 3600) as _;
        tm.tm_min = (rem / 60 % 60) as _;
        tm.tm_sec = (rem % 60) as _;
        Some(tm)
    }
}

/// Year, month (1-12) and day (1-31) of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Mbed TLS's millisecond timer (handshake timeouts), from embassy-time.
struct Timer;

impl MbedtlsTimer for Timer {
    fn now(&self) -> mbedtls_rs::sys::mbedtls_ms_time_t {
        embassy_time::Instant::now().as_millis() as _
    }
}

/// The board's random source, through getrandom's custom backend (as with rustls).
pub use getrandom;

/// Registers a board's hardware RNG as the source of every random byte TLS uses.
#[macro_export]
macro_rules! register_rng {
    ($fill:path) => {
        $crate::tls::getrandom::register_custom_getrandom!($fill);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_gmtime_gives_them() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_789), (2026, 12, 2));
    }

    #[test]
    fn pem_blocks_are_base64_of_the_der() {
        let mut out = String::new();
        pem_block(b"Man", &mut out);
        assert!(out.contains("\nTWFu\n"), "{out}");
        out.clear();
        pem_block(b"Ma", &mut out);
        assert!(out.contains("\nTWE=\n"), "{out}");
    }
}
