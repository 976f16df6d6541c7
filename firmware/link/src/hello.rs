//! The handshake: the host says which protocol it speaks, the device answers with its versions,
//! board and limits, so the host can refuse what the device cannot take before sending it.

use crate::frame::decimal;
use core::fmt;

/// The device's answer to `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// The protocol version the device speaks ([`crate::VERSION`] of its build).
    pub protocol: u32,
    /// The firmware's version.
    pub firmware: &'a str,
    /// The board's name (`qemu`, `esp32c3`, ...).
    pub board: &'a str,
    /// The `User-Agent` it sends when a request names none.
    pub agent: &'a str,
    /// The largest `req` payload it takes (method, URL, options and headers).
    pub max_request: u32,
    /// The most request headers it takes.
    pub max_headers: u32,
    /// Whether https is built in.
    pub tls: bool,
}

impl<'a> Hello<'a> {
    /// The payload: one `key value` pair per line, the first naming the protocol.
    pub fn write(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(
            out,
            "{} {}\nfirmware {}\nboard {}\nagent {}\nmax-request {}\nmax-headers {}\ntls {}\n",
            crate::GREETING,
            self.protocol,
            self.firmware,
            self.board,
            self.agent,
            self.max_request,
            self.max_headers,
            u8::from(self.tls)
        )
    }

    /// Reads a device's answer; keys it does not know are skipped (a newer firmware may add some).
    /// `None` when the first line does not name the protocol or a known value is malformed.
    pub fn parse(payload: &'a [u8]) -> Option<Hello<'a>> {
        let text = core::str::from_utf8(payload).ok()?;
        let mut lines = text.lines();
        let protocol = protocol_of(lines.next()?.as_bytes())?;
        let mut hello = Hello {
            protocol,
            firmware: "",
            board: "",
            agent: "",
            max_request: 0,
            max_headers: 0,
            tls: false,
        };
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let number = || decimal(value.as_bytes());
            match key {
                "firmware" => hello.firmware = value,
                "board" => hello.board = value,
                "agent" => hello.agent = value,
                "max-request" => hello.max_request = number()?,
                "max-headers" => hello.max_headers = number()?,
                "tls" => hello.tls = number()? != 0,
                _ => {}
            }
        }
        Some(hello)
    }
}

/// The host's `hello` payload.
pub fn greeting(out: &mut impl fmt::Write) -> fmt::Result {
    write!(out, "{} {}", crate::GREETING, crate::VERSION)
}

/// The version in a `mreq-link N` line (the host's payload, or the first line of the answer).
pub fn protocol_of(line: &[u8]) -> Option<u32> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let rest = line.strip_prefix(crate::GREETING.as_bytes())?;
    decimal(rest.strip_prefix(b" ")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_unknown_keys_are_skipped() {
        let hello = Hello {
            protocol: 1,
            firmware: "0.1.0",
            board: "qemu",
            agent: "mreq-fw/0.1.0 (qemu)",
            max_request: 2048,
            max_headers: 24,
            tls: true,
        };
        let mut text = String::new();
        hello.write(&mut text).unwrap();
        assert_eq!(Hello::parse(text.as_bytes()), Some(hello));
        text.push_str("colour blue\n");
        assert_eq!(Hello::parse(text.as_bytes()), Some(hello));
        assert_eq!(Hello::parse(b"other 1\n"), None);
        assert_eq!(Hello::parse(b"mreq-link 1\nmax-request lots\n"), None);
        let mut greet = String::new();
        greeting(&mut greet).unwrap();
        assert_eq!(protocol_of(greet.as_bytes()), Some(crate::VERSION));
        assert_eq!(protocol_of(b"mreq-link x"), None);
    }
}
