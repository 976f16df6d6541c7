//! SNTP (RFC 4330) client: one question to one server, for the wall clock that TLS needs to check
//! certificate dates.
//!
//! It asks up to [`ATTEMPTS`] times and believes only an answer that echoes its own transmit
//! timestamp, comes from a synchronised server (stratum 1-15, leap indicator not "alarm") and is
//! after [`EARLIEST`]. It does not measure round-trip delay or discipline the clock: certificate
//! dates need seconds, not microseconds.

use core::fmt;
use core::net::Ipv4Addr;

use embassy_net::dns::DnsQueryType;
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_time::{with_timeout, Duration, Instant};

/// The server asked when the configuration names none.
pub const DEFAULT_SERVER: &str = "pool.ntp.org";
pub const DEFAULT_PORT: u16 = 123;
/// Questions sent before giving up, each waiting [`WAIT`] for its answer.
pub const ATTEMPTS: usize = 3;
pub const WAIT: Duration = Duration::from_secs(2);
/// Seconds between 1900-01-01 (NTP's epoch) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// An answer before 2025-01-01 is a broken or spoofed server, not the date.
pub const EARLIEST: u64 = 1_735_689_600;
const PACKET: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SntpError {
    /// The server name is not `host` or `host:port`.
    BadServer,
    Dns,
    /// No answer (or only unusable ones) after every attempt.
    NoAnswer,
    /// An answer that is not a usable time (see [`parse_reply`]).
    BadReply(&'static str),
    Socket,
}

impl fmt::Display for SntpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SntpError::BadServer => f.write_str("bad server name (expected host or host:port)"),
            SntpError::Dns => f.write_str("could not resolve the server"),
            SntpError::NoAnswer => write!(f, "no answer after {ATTEMPTS} tries"),
            SntpError::BadReply(why) => write!(f, "unusable answer ({why})"),
            SntpError::Socket => f.write_str("UDP socket error"),
        }
    }
}

/// Splits `host` or `host:port` (port 123 by default).
pub fn split_server(server: &str) -> Result<(&str, u16), SntpError> {
    let (host, port) = match server.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(SntpError::BadServer)?,
        ),
        None => (server, DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err(SntpError::BadServer);
    }
    Ok((host, port))
}

/// A client request (version 4, mode 3) whose transmit timestamp is `nonce`: the server copies
/// it into the originate timestamp of its answer, which is how the answer is matched.
pub fn request(nonce: u64) -> [u8; PACKET] {
    let mut packet = [0u8; PACKET];
    packet[0] = (4 << 3) | 3;
    packet[40..48].copy_from_slice(&nonce.to_be_bytes());
    packet
}

/// The Unix time in milliseconds from a server's answer to [`request`]`(nonce)`.
pub fn parse_reply(reply: &[u8], nonce: u64) -> Result<u64, SntpError> {
    if reply.len() < PACKET {
        return Err(SntpError::BadReply("short packet"));
    }
    let leap = reply[0] >> 6;
    let version = (reply[0] >> 3) & 7;
    let mode = reply[0] & 7;
    if mode != 4 || !(3..=4).contains(&version) {
        return Err(SntpError::BadReply("not a server answer"));
    }
    if reply[24..32] != nonce.to_be_bytes() {
        return Err(SntpError::BadReply("not an answer to our question"));
    }
    if leap == 3 || !(1..=15).contains(&reply[1]) {
        return Err(SntpError::BadReply("server not synchronised"));
    }
    let seconds = u64::from(u32::from_be_bytes([
        reply[40], reply[41], reply[42], reply[43],
    ]));
    let fraction = u64::from(u32::from_be_bytes([
        reply[44], reply[45], reply[46], reply[47],
    ]));
    // NTP era 0 ends in 2036: a seconds field with the top bit clear is from era 1.
    let seconds = if seconds & 0x8000_0000 == 0 {
        seconds + (1 << 32)
    } else {
        seconds
    };
    let unix = seconds - NTP_UNIX_OFFSET;
    if unix < EARLIEST {
        return Err(SntpError::BadReply("time before 2025"));
    }
    Ok(unix * 1000 + ((fraction * 1000) >> 32))
}

/// Asks `server` for the time and sets [`crate::clock`] from the answer; returns the answer.
pub async fn sync(stack: Stack<'_>, server: &str) -> Result<u64, SntpError> {
    let answer = query(stack, server).await;
    if let Ok(unix_ms) = answer {
        crate::clock::set(unix_ms);
    }
    answer
}

/// Asks `server` (`host` or `host:port`) for the time; returns Unix milliseconds as of now.
pub async fn query(stack: Stack<'_>, server: &str) -> Result<u64, SntpError> {
    let (host, port) = split_server(server)?;
    let ip = match host.parse::<Ipv4Addr>() {
        Ok(ip) => IpAddress::Ipv4(ip),
        Err(_) => stack
            .dns_query(host, DnsQueryType::A)
            .await
            .ok()
            .and_then(|found| found.first().copied())
            .ok_or(SntpError::Dns)?,
    };
    let server = IpEndpoint::new(ip, port);
    let mut rx_meta = [PacketMetadata::EMPTY; 2];
    let mut tx_meta = [PacketMetadata::EMPTY; 2];
    let mut rx = [0u8; 2 * PACKET];
    let mut tx = [0u8; 2 * PACKET];
    let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
    socket.bind(0).map_err(|_| SntpError::Socket)?;
    let mut last = SntpError::NoAnswer;
    for attempt in 0..ATTEMPTS {
        // Never repeats within a boot; the server only has to echo it.
        let nonce = Instant::now().as_ticks() ^ ((attempt as u64) << 56);
        socket
            .send_to(&request(nonce), server)
            .await
            .map_err(|_| SntpError::Socket)?;
        let mut reply = [0u8; PACKET];
        let answer = with_timeout(WAIT, async {
            loop {
                match socket.recv_from(&mut reply).await {
                    Ok((n, meta)) if meta.endpoint == server => {
                        break parse_reply(&reply[..n], nonce)
                    }
                    // Someone else's datagram: keep waiting for ours.
                    Ok(_) => continue,
                    Err(_) => break Err(SntpError::Socket),
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(unix_ms)) => return Ok(unix_ms),
            Ok(Err(err)) => last = err,
            Err(_timeout) => {}
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(nonce: u64, ntp_seconds: u32, fraction: u32) -> [u8; PACKET] {
        let mut r = [0u8; PACKET];
        r[0] = (4 << 3) | 4;
        r[1] = 2;
        r[24..32].copy_from_slice(&nonce.to_be_bytes());
        r[40..44].copy_from_slice(&ntp_seconds.to_be_bytes());
        r[44..48].copy_from_slice(&fraction.to_be_bytes());
        r
    }

    #[test]
    fn request_is_a_v4_client_packet_carrying_the_nonce() {
        let packet = request(0x0102_0304_0506_0708);
        assert_eq!(packet[0], 0x23);
        assert_eq!(packet[40..48], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(packet[1..40].iter().all(|&b| b == 0));
    }

    #[test]
    fn reads_the_transmit_timestamp() {
        // 2026-11-26 07:20:12.5 UTC.
        let ntp = (1_795_677_612u64 + NTP_UNIX_OFFSET) as u32;
        let time = parse_reply(&reply(7, ntp, 0x8000_0000), 7).unwrap();
        assert_eq!(time, 1_795_677_612_500);
    }

    #[test]
    fn times_after_2036_wrap_into_era_one() {
        // 2040-01-01 00:00:00 UTC is past the 32-bit NTP seconds of era 0.
        let unix = 2_208_988_800u64;
        let ntp = (unix + NTP_UNIX_OFFSET - (1 << 32)) as u32;
        assert_eq!(parse_reply(&reply(1, ntp, 0), 1).unwrap(), unix * 1000);
    }

    #[test]
    fn refuses_unusable_answers() {
        let ntp = (1_795_677_612u64 + NTP_UNIX_OFFSET) as u32;
        let good = reply(9, ntp, 0);
        assert!(parse_reply(&good, 9).is_ok());
        assert!(parse_reply(&good[..47], 9).is_err(), "short");
        assert!(parse_reply(&good, 8).is_err(), "another question's answer");
        let mut client_mode = good;
        client_mode[0] = (4 << 3) | 3;
        assert!(parse_reply(&client_mode, 9).is_err(), "not from a server");
        let mut unsynced = good;
        unsynced[0] |= 3 << 6;
        assert!(parse_reply(&unsynced, 9).is_err(), "leap alarm");
        let mut kiss = good;
        kiss[1] = 0;
        assert!(parse_reply(&kiss, 9).is_err(), "stratum 0 (kiss-o'-death)");
        let old = reply(9, (1_600_000_000u64 + NTP_UNIX_OFFSET) as u32, 0);
        assert!(parse_reply(&old, 9).is_err(), "2020 is before EARLIEST");
    }

    #[test]
    fn splits_server_names() {
        assert_eq!(split_server("pool.ntp.org"), Ok(("pool.ntp.org", 123)));
        assert_eq!(split_server("10.0.2.2:1123"), Ok(("10.0.2.2", 1123)));
        for bad in ["", ":123", "host:", "host:0", "host:70000"] {
            assert_eq!(split_server(bad), Err(SntpError::BadServer), "{bad}");
        }
    }
}
