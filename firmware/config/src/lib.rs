//! The device configuration block: what a board needs to join a network and what to do at start-up.
//!
//! Written by `mreq-flash` into a flash region of its own, read by the firmware at boot. The layout
//! is little-endian and versioned:
//!
//! ```text
//! offset 0  magic   "MRQC"
//!        4  version u8 (= 1)
//!        5  flags   u8 (reserved, 0)
//!        6  length  u16: bytes of TLV entries that follow
//!        8  entries: tag u8, length u16, value (length bytes) ...
//!   8+length crc32   u32: CRC-32/ISO-HDLC of bytes 0 .. 8+length
//! ```
//!
//! Erased flash (all 0xFF) and anything with a wrong magic, version, length or CRC is rejected with
//! a reason, so the firmware can fall back to defaults and say why. Unknown tags are skipped, so an
//! older firmware reads a newer block. No allocation: [`Config`] borrows the block, [`Builder`]
//! writes into a caller's buffer.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod boards;

use core::fmt;

pub const MAGIC: [u8; 4] = *b"MRQC";
pub const VERSION: u8 = 1;
/// The block occupies one 4 KiB flash sector on every board.
pub const BLOCK_SIZE: usize = 4096;
const HEADER_LEN: usize = 8;
const CRC_LEN: usize = 4;

/// Entry tags. Values are fixed forever: new entries get new tags.
pub mod tag {
    pub const WIFI_SSID: u8 = 1;
    pub const WIFI_PASSWORD: u8 = 2;
    /// 4 address bytes + 1 prefix length byte.
    pub const STATIC_IPV4: u8 = 3;
    pub const GATEWAY_IPV4: u8 = 4;
    /// May appear up to three times.
    pub const DNS_IPV4: u8 = 5;
    pub const STARTUP_URL: u8 = 6;
    /// A DER certificate to trust for https; may appear several times.
    pub const CA_CERT_DER: u8 = 7;
    /// One byte, 1: skip TLS certificate verification (the console warns at every request).
    pub const TLS_INSECURE: u8 = 8;
    /// The SNTP server for the wall clock (certificate dates): `host` or `host:port`, UTF-8.
    pub const NTP_SERVER: u8 = 9;
    /// A setting for the user's own firmware: `NAME=VALUE`, UTF-8, NAME not empty and without `=`;
    /// may appear several times (read with [`Config::app_setting`](crate::Config::app_setting)).
    pub const APP_SETTING: u8 = 10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// All bytes are 0xFF: nothing was ever written.
    Erased,
    BadMagic,
    UnsupportedVersion(u8),
    /// The length field points past the end of the block.
    BadLength,
    BadCrc,
    /// An entry runs past the end of the entry area, or has a value of the wrong size.
    BadEntry(u8),
    /// The builder's buffer (or the block) is too small for the entries.
    TooLarge,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Erased => f.write_str("no configuration written (erased flash)"),
            ConfigError::BadMagic => f.write_str("no configuration block (bad magic)"),
            ConfigError::UnsupportedVersion(v) => {
                write!(f, "configuration version {v} not supported")
            }
            ConfigError::BadLength => f.write_str("configuration length out of range"),
            ConfigError::BadCrc => f.write_str("configuration CRC mismatch (corrupt block)"),
            ConfigError::BadEntry(tag) => write!(f, "malformed configuration entry (tag {tag})"),
            ConfigError::TooLarge => f.write_str("configuration does not fit in the block"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// An IPv4 address with its prefix length (`10.0.2.15/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    pub address: [u8; 4],
    pub prefix: u8,
}

/// A validated configuration block, borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    entries: &'a [u8],
}

impl<'a> Config<'a> {
    /// Checks magic, version, length and CRC, and that every entry is well-formed.
    pub fn parse(block: &'a [u8]) -> Result<Config<'a>, ConfigError> {
        if block.len() >= HEADER_LEN && block.iter().all(|&b| b == 0xFF) {
            return Err(ConfigError::Erased);
        }
        let header = block.get(..HEADER_LEN).ok_or(ConfigError::BadLength)?;
        if header[..4] != MAGIC {
            return Err(ConfigError::BadMagic);
        }
        if header[4] != VERSION {
            return Err(ConfigError::UnsupportedVersion(header[4]));
        }
        let length = usize::from(u16::from_le_bytes([header[6], header[7]]));
        let end = HEADER_LEN + length;
        let stored = block
            .get(end..end + CRC_LEN)
            .ok_or(ConfigError::BadLength)?;
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        if crc32(&block[..end]) != stored {
            return Err(ConfigError::BadCrc);
        }
        let config = Config {
            entries: &block[HEADER_LEN..end],
        };
        for entry in config.entries() {
            let (tag, value) = entry?;
            let size_ok = match tag {
                tag::WIFI_SSID => value.len() <= 32,
                tag::WIFI_PASSWORD => value.len() <= 64,
                tag::STATIC_IPV4 => value.len() == 5 && value[4] <= 32,
                tag::GATEWAY_IPV4 | tag::DNS_IPV4 => value.len() == 4,
                tag::STARTUP_URL | tag::NTP_SERVER => core::str::from_utf8(value).is_ok(),
                tag::TLS_INSECURE => value.len() == 1,
                tag::APP_SETTING => core::str::from_utf8(value)
                    .ok()
                    .and_then(split_setting)
                    .is_some(),
                _ => true,
            };
            if !size_ok {
                return Err(ConfigError::BadEntry(tag));
            }
        }
        Ok(config)
    }

    /// All entries in order: `(tag, value)`.
    pub fn entries(&self) -> Entries<'a> {
        Entries { rest: self.entries }
    }

    fn first(&self, wanted: u8) -> Option<&'a [u8]> {
        self.entries()
            .filter_map(Result::ok)
            .find(|(t, _)| *t == wanted)
            .map(|(_, v)| v)
    }

    pub fn wifi_ssid(&self) -> Option<&'a str> {
        self.first(tag::WIFI_SSID)
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    pub fn wifi_password(&self) -> Option<&'a str> {
        self.first(tag::WIFI_PASSWORD)
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The static address; `None` means DHCP.
    pub fn static_ipv4(&self) -> Option<Ipv4Cidr> {
        self.first(tag::STATIC_IPV4).map(|v| Ipv4Cidr {
            address: [v[0], v[1], v[2], v[3]],
            prefix: v[4],
        })
    }

    pub fn gateway(&self) -> Option<[u8; 4]> {
        self.first(tag::GATEWAY_IPV4)
            .map(|v| [v[0], v[1], v[2], v[3]])
    }

    /// Up to three DNS servers, in order.
    pub fn dns_servers(&self) -> impl Iterator<Item = [u8; 4]> + 'a {
        self.entries()
            .filter_map(Result::ok)
            .filter(|(t, _)| *t == tag::DNS_IPV4)
            .map(|(_, v)| [v[0], v[1], v[2], v[3]])
            .take(3)
    }

    pub fn startup_url(&self) -> Option<&'a str> {
        self.first(tag::STARTUP_URL)
            .and_then(|v| core::str::from_utf8(v).ok())
    }

    pub fn ca_certs(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries()
            .filter_map(Result::ok)
            .filter(|(t, _)| *t == tag::CA_CERT_DER)
            .map(|(_, v)| v)
    }

    pub fn tls_insecure(&self) -> bool {
        self.first(tag::TLS_INSECURE) == Some(&[1])
    }

    /// The application settings (`mreq-flash --app-setting NAME=VALUE`), in order.
    pub fn app_settings(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.entries()
            .filter_map(Result::ok)
            .filter(|(t, _)| *t == tag::APP_SETTING)
            .filter_map(|(_, v)| core::str::from_utf8(v).ok().and_then(split_setting))
    }

    /// The value of the first application setting named `name` (exact, case-sensitive).
    pub fn app_setting(&self, name: &str) -> Option<&'a str> {
        self.app_settings()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// The configured SNTP server (`host` or `host:port`); `None` means the firmware's default.
    pub fn ntp_server(&self) -> Option<&'a str> {
        self.first(tag::NTP_SERVER)
            .and_then(|v| core::str::from_utf8(v).ok())
    }
}

/// `NAME=VALUE` as (NAME, VALUE); `None` if there is no `=` or NAME is empty.
fn split_setting(setting: &str) -> Option<(&str, &str)> {
    setting.split_once('=').filter(|(name, _)| !name.is_empty())
}

/// Iterator over `(tag, value)` entries.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(u8, &'a [u8]), ConfigError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, after) = self.rest.split_first()?;
        let entry = after
            .get(..2)
            .map(|len| usize::from(u16::from_le_bytes([len[0], len[1]])))
            .and_then(|len| {
                after
                    .get(2..2 + len)
                    .map(|value| (value, &after[2 + len..]))
            });
        match entry {
            Some((value, rest)) => {
                self.rest = rest;
                Some(Ok((tag, value)))
            }
            None => {
                self.rest = &[];
                Some(Err(ConfigError::BadEntry(tag)))
            }
        }
    }
}

/// Writes a configuration block into a caller's buffer (the flasher's side).
pub struct Builder<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
    /// A value its tag does not allow was given (`finish` reports the tag).
    invalid: bool,
}

impl<'b> Builder<'b> {
    /// Starts a block in `buf` (normally [`BLOCK_SIZE`] bytes).
    pub fn new(buf: &'b mut [u8]) -> Self {
        let overflow = buf.len() < HEADER_LEN + CRC_LEN;
        Builder {
            buf,
            len: HEADER_LEN,
            overflow,
            invalid: false,
        }
    }

    /// Adds a raw entry.
    pub fn entry(&mut self, tag: u8, value: &[u8]) -> &mut Self {
        if let Some(slot) = self.reserve(tag, value.len()) {
            slot.copy_from_slice(value);
        }
        self
    }

    /// Writes an entry's tag and length and returns the room for its value; `None` (and the
    /// block marked too large) if it does not fit.
    fn reserve(&mut self, tag: u8, value_len: usize) -> Option<&mut [u8]> {
        let end = self.len + 3 + value_len;
        let fits = end + CRC_LEN <= BLOCK_SIZE.min(u16::MAX as usize);
        match (u16::try_from(value_len), self.buf.get_mut(self.len..end)) {
            (Ok(len), Some(slot)) if fits => {
                slot[0] = tag;
                slot[1..3].copy_from_slice(&len.to_le_bytes());
                self.len = end;
                Some(&mut slot[3..])
            }
            _ => {
                self.overflow = true;
                None
            }
        }
    }

    pub fn wifi(&mut self, ssid: &str, password: &str) -> &mut Self {
        self.entry(tag::WIFI_SSID, ssid.as_bytes())
            .entry(tag::WIFI_PASSWORD, password.as_bytes())
    }

    pub fn static_ipv4(&mut self, cidr: Ipv4Cidr) -> &mut Self {
        let a = cidr.address;
        self.entry(tag::STATIC_IPV4, &[a[0], a[1], a[2], a[3], cidr.prefix])
    }

    pub fn gateway(&mut self, address: [u8; 4]) -> &mut Self {
        self.entry(tag::GATEWAY_IPV4, &address)
    }

    pub fn dns(&mut self, address: [u8; 4]) -> &mut Self {
        self.entry(tag::DNS_IPV4, &address)
    }

    pub fn startup_url(&mut self, url: &str) -> &mut Self {
        self.entry(tag::STARTUP_URL, url.as_bytes())
    }

    pub fn ca_cert_der(&mut self, der: &[u8]) -> &mut Self {
        self.entry(tag::CA_CERT_DER, der)
    }

    pub fn tls_insecure(&mut self) -> &mut Self {
        self.entry(tag::TLS_INSECURE, &[1])
    }

    pub fn ntp_server(&mut self, server: &str) -> &mut Self {
        self.entry(tag::NTP_SERVER, server.as_bytes())
    }

    /// An application setting; `finish` fails if `name` is empty or holds `=`.
    pub fn app_setting(&mut self, name: &str, value: &str) -> &mut Self {
        if name.is_empty() || name.contains('=') {
            self.invalid = true;
            return self;
        }
        let Some(slot) = self.reserve(tag::APP_SETTING, name.len() + 1 + value.len()) else {
            return self;
        };
        slot[..name.len()].copy_from_slice(name.as_bytes());
        slot[name.len()] = b'=';
        slot[name.len() + 1..].copy_from_slice(value.as_bytes());
        self
    }

    /// Writes header and CRC; returns the block's used length. Fails if anything did not fit or
    /// a value was invalid for its tag.
    pub fn finish(&mut self) -> Result<usize, ConfigError> {
        if self.overflow {
            return Err(ConfigError::TooLarge);
        }
        if self.invalid {
            return Err(ConfigError::BadEntry(tag::APP_SETTING));
        }
        let length = u16::try_from(self.len - HEADER_LEN).map_err(|_| ConfigError::TooLarge)?;
        self.buf[..4].copy_from_slice(&MAGIC);
        self.buf[4] = VERSION;
        self.buf[5] = 0;
        self.buf[6..8].copy_from_slice(&length.to_le_bytes());
        let crc = crc32(&self.buf[..self.len]);
        let end = self.len + CRC_LEN;
        self.buf
            .get_mut(self.len..end)
            .ok_or(ConfigError::TooLarge)?
            .copy_from_slice(&crc.to_le_bytes());
        Config::parse(&self.buf[..end])?;
        Ok(end)
    }
}

/// CRC-32/ISO-HDLC (the zlib and Ethernet CRC), bit by bit: the block is read once per boot.
pub fn crc32(data: &[u8]) -> u32 {
    !crc32_update(!0, data)
}

/// Continues a CRC-32 over more data: start with `!0`, finish with `!crc` (for streamed bodies).
pub fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_block(buf: &mut [u8; BLOCK_SIZE]) -> usize {
        Builder::new(buf)
            .wifi("home", "secret pass")
            .static_ipv4(Ipv4Cidr {
                address: [10, 0, 2, 15],
                prefix: 24,
            })
            .gateway([10, 0, 2, 2])
            .dns([10, 0, 2, 3])
            .dns([1, 1, 1, 1])
            .startup_url("http://10.0.2.2:8000/get")
            .ca_cert_der(&[0x30, 0x82, 1, 2])
            .ntp_server("10.0.2.2:1123")
            .entry(200, b"future entry")
            .finish()
            .unwrap()
    }

    #[test]
    fn round_trip() {
        let mut buf = [0xFFu8; BLOCK_SIZE];
        let len = full_block(&mut buf);
        let config = Config::parse(&buf).unwrap();
        assert_eq!(config.wifi_ssid(), Some("home"));
        assert_eq!(config.wifi_password(), Some("secret pass"));
        assert_eq!(
            config.static_ipv4(),
            Some(Ipv4Cidr {
                address: [10, 0, 2, 15],
                prefix: 24
            })
        );
        assert_eq!(config.gateway(), Some([10, 0, 2, 2]));
        assert_eq!(
            config.dns_servers().collect::<Vec<_>>(),
            [[10, 0, 2, 3], [1, 1, 1, 1]]
        );
        assert_eq!(config.startup_url(), Some("http://10.0.2.2:8000/get"));
        assert_eq!(
            config.ca_certs().collect::<Vec<_>>(),
            [&[0x30, 0x82, 1, 2][..]]
        );
        assert!(!config.tls_insecure());
        assert_eq!(config.ntp_server(), Some("10.0.2.2:1123"));
        assert_eq!(
            config.entries().count(),
            10,
            "unknown tags are kept and skipped"
        );
        assert_eq!(
            len,
            8 + 10 * 3 + (4 + 11 + 5 + 4 + 4 + 4 + 24 + 4 + 13 + 12) + 4
        );
    }

    #[test]
    fn app_settings_round_trip_and_bad_ones_are_refused() {
        let mut buf = [0xFFu8; BLOCK_SIZE];
        Builder::new(&mut buf)
            .app_setting("SERVER", "http://10.0.2.2:8080/a=b")
            .app_setting("EVERY_MS", "500")
            .app_setting("EMPTY", "")
            .app_setting("SERVER", "second")
            .finish()
            .unwrap();
        let config = Config::parse(&buf).unwrap();
        assert_eq!(
            config.app_setting("SERVER"),
            Some("http://10.0.2.2:8080/a=b")
        );
        assert_eq!(config.app_setting("EVERY_MS"), Some("500"));
        assert_eq!(config.app_setting("EMPTY"), Some(""));
        assert_eq!(
            config.app_setting("server"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(config.app_settings().count(), 4);
        for (name, value) in [("", "x"), ("A=B", "x")] {
            let mut buf = [0xFFu8; BLOCK_SIZE];
            let built = Builder::new(&mut buf).app_setting(name, value).finish();
            assert_eq!(
                built,
                Err(ConfigError::BadEntry(tag::APP_SETTING)),
                "{name:?}"
            );
        }
        // A block written by something else with a setting that has no `=` is refused whole.
        let mut buf = [0xFFu8; BLOCK_SIZE];
        let built = Builder::new(&mut buf)
            .entry(tag::APP_SETTING, b"no equals sign")
            .finish();
        assert_eq!(built, Err(ConfigError::BadEntry(tag::APP_SETTING)));
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            !crc32_update(crc32_update(!0, b"1234"), b"56789"),
            0xCBF4_3926
        );
    }

    #[test]
    fn rejects_erased_and_corrupt_blocks() {
        assert_eq!(
            Config::parse(&[0xFF; BLOCK_SIZE]).err(),
            Some(ConfigError::Erased)
        );
        assert_eq!(
            Config::parse(&[0; BLOCK_SIZE]).err(),
            Some(ConfigError::BadMagic)
        );
        let mut buf = [0xFFu8; BLOCK_SIZE];
        let len = full_block(&mut buf);
        for i in 8..len - 4 {
            let mut bad = buf;
            bad[i] ^= 0x01;
            assert_eq!(
                Config::parse(&bad).err(),
                Some(ConfigError::BadCrc),
                "flipped byte {i}"
            );
        }
        let mut version = buf;
        version[4] = 9;
        assert_eq!(
            Config::parse(&version).err(),
            Some(ConfigError::UnsupportedVersion(9))
        );
        let mut length = buf;
        length[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(Config::parse(&length).err(), Some(ConfigError::BadLength));
        assert_eq!(Config::parse(&buf[..5]).err(), Some(ConfigError::BadLength));
    }

    #[test]
    fn rejects_malformed_entries() {
        let mut buf = [0u8; 64];
        assert_eq!(
            Builder::new(&mut buf)
                .entry(tag::STATIC_IPV4, &[1, 2, 3])
                .finish(),
            Err(ConfigError::BadEntry(tag::STATIC_IPV4))
        );
        let long_ssid = "x".repeat(33);
        let mut buf = [0u8; 128];
        assert_eq!(
            Builder::new(&mut buf).wifi(&long_ssid, "").finish(),
            Err(ConfigError::BadEntry(tag::WIFI_SSID))
        );
        // An entry whose length runs past the entry area.
        let mut raw = Vec::from(&MAGIC[..]);
        raw.extend_from_slice(&[VERSION, 0, 3, 0, tag::STARTUP_URL, 10, 0]);
        let crc = crc32(&raw);
        raw.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            Config::parse(&raw).err(),
            Some(ConfigError::BadEntry(tag::STARTUP_URL))
        );
    }

    #[test]
    fn too_large_is_an_error() {
        let mut small = [0u8; 16];
        assert_eq!(
            Builder::new(&mut small)
                .startup_url("http://example.org/")
                .finish(),
            Err(ConfigError::TooLarge)
        );
        let mut buf = [0u8; BLOCK_SIZE];
        let big = [0u8; BLOCK_SIZE];
        assert_eq!(
            Builder::new(&mut buf).ca_cert_der(&big).finish(),
            Err(ConfigError::TooLarge)
        );
    }
}
