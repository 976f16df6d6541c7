//! `mreq --device`: the request runs on a board, through the firmware's serial request shell
//! (framed mode, see firmware/PROTOCOL.md), and is printed exactly as a local one.

use crate::args::Args;
use crate::body::BodyReader;
use crate::failure::{self, Failure};
use crate::output::{self, PrintSpec, Style};
use crate::plan::{Body, Plan};
use crate::stdout::Stdout;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The firmware's limits (firmware/app/src/shell.rs).
const MAX_BODY: usize = 4096;
const MAX_HEADERS: usize = 8;

/// The serial line to a board: a TCP socket (QEMU's console, a serial-to-TCP bridge) or a serial
/// device (USB serial adapter, or the pty QEMU's `-serial pty` makes).
pub trait Line: Read + Write {}
impl<T: Read + Write> Line for T {}

/// Serial speed for device paths (what the firmware consoles use).
const BAUD: u32 = 115_200;

/// Opens `tcp:HOST:PORT` or a serial device path, with `timeout` on every read.
fn open(port: &str, timeout: Duration) -> Result<Box<dyn Line>, Failure> {
    if let Some(address) = port.strip_prefix("tcp:") {
        let stream = TcpStream::connect(address).map_err(|e| {
            Failure::new(
                failure::CONNECT,
                format!("could not connect to device {address}: {e}"),
            )
        })?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| Failure::other(e.into()))?;
        return Ok(Box::new(stream));
    }
    let serial = serialport::new(port, BAUD)
        .timeout(timeout)
        .open()
        .map_err(|e| {
            let hint = match e.kind() {
                serialport::ErrorKind::NoDevice => " (is the board plugged in? is the port busy?)",
                serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
                    " (add yourself to the dialout group)"
                }
                _ => "",
            };
            Failure::new(
                failure::CONNECT,
                format!("could not open {port}: {e}{hint}"),
            )
        })?;
    Ok(Box::new(serial))
}

/// Writes the framed request: `@req METHOD URL BODY_LEN HEADER_COUNT`, header lines, body.
pub fn encode_request(plan: &Plan) -> Result<Vec<u8>, Failure> {
    let usage = |message: String| Failure::new(failure::USAGE, message);
    let streamed;
    let body: &[u8] = match &plan.body {
        Body::None => &[],
        Body::Bytes(bytes) => bytes,
        Body::Stream(parts) => {
            let mut reader =
                BodyReader::open(parts).map_err(|e| Failure::coded(failure::READ_ERROR, e))?;
            streamed = reader
                .read_all(MAX_BODY)
                .map_err(|e| {
                    Failure::new(failure::READ_ERROR, format!("cannot read the body: {e}"))
                })?
                .ok_or_else(|| {
                    usage(format!(
                        "--device: the body is longer than the {MAX_BODY} bytes the device takes"
                    ))
                })?;
            &streamed
        }
    };
    if body.len() > MAX_BODY {
        return Err(usage(format!(
            "--device: the body is {} bytes; the device takes at most {MAX_BODY}",
            body.len()
        )));
    }
    let mut owned = plan.headers.clone();
    if let Some(auth) = crate::run::engine_auth(plan) {
        let secret_len = match &plan.auth {
            Some(crate::plan::AuthSpec::Basic(user, password)) => user.len() + password.len(),
            Some(crate::plan::AuthSpec::Bearer(token)) => token.len(),
            None => 0,
        };
        let mut value = vec![0u8; 2 * secret_len + 16];
        let value = auth
            .header_value(&mut value)
            .map_err(|e| usage(format!("--device: credentials: {e}")))?;
        owned.push(("Authorization".into(), value.to_string()));
    }
    let headers: Vec<&(String, String)> = owned
        .iter()
        // The board sends its own agent (mreq-fw/VERSION) unless the user named one.
        .filter(|(n, v)| !(n.eq_ignore_ascii_case("user-agent") && v == crate::plan::USER_AGENT))
        .collect();
    if headers.len() > MAX_HEADERS {
        return Err(usage(format!("--device: at most {MAX_HEADERS} headers")));
    }
    if plan.url.contains([' ', '\n', '\r']) || plan.method.contains([' ', '\n']) {
        return Err(usage("--device: URL or method with spaces".into()));
    }
    let mut out = format!(
        "@req {} {} {} {}\n",
        plan.method,
        plan.url,
        body.len(),
        headers.len()
    )
    .into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    out.extend_from_slice(body);
    Ok(out)
}

/// A response as the device reported it.
#[derive(Debug, Default)]
pub struct DeviceResponse {
    pub head: Vec<u8>,
    pub status: u16,
    pub body: Vec<u8>,
}

/// Reads frames until `@end`; lines without `@` (console output) are skipped. `@warn` texts
/// (the device says TLS verification is off, say) go to `warn` as they arrive.
pub fn decode_response(
    reader: &mut impl BufRead,
    warn: &mut impl FnMut(&str),
) -> Result<DeviceResponse, Failure> {
    let lost = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::new(
            failure::TIMEOUT,
            "the device did not answer in time (--timeout)",
        ),
        _ => Failure::new(failure::RECEIVE, format!("lost the device: {e}")),
    };
    let mut response = DeviceResponse::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(lost)? == 0 {
            return Err(Failure::new(
                failure::EMPTY_REPLY,
                "the device closed the connection before @end",
            ));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(warning) = text.strip_prefix("@warn ") {
            warn(warning);
        } else if let Some(status) = text.strip_prefix("@status ") {
            let (code, _) = status.split_once(' ').unwrap_or((status, ""));
            response.status = code.parse().map_err(|_| protocol(text))?;
            response.head = format!("HTTP/1.1 {status}\r\n").into_bytes();
        } else if let Some(header) = text.strip_prefix("@header ") {
            response.head.extend_from_slice(header.as_bytes());
            response.head.extend_from_slice(b"\r\n");
        } else if let Some(len) = text.strip_prefix("@body ") {
            let len: usize = len.parse().map_err(|_| protocol(text))?;
            let start = response.body.len();
            response.body.resize(start + len, 0);
            reader
                .read_exact(&mut response.body[start..])
                .map_err(lost)?;
        } else if let Some(end) = text.strip_prefix("@end ") {
            if let Some(summary) = end.strip_prefix("ok ") {
                check_summary(summary, &response.body)?;
                response.head.extend_from_slice(b"\r\n");
                return Ok(response);
            }
            let message = end.strip_prefix("err ").unwrap_or(end);
            return Err(Failure {
                code: error_code(message),
                message: format!("on the device: {message}"),
            });
        }
    }
}

fn protocol(line: &str) -> Failure {
    Failure::new(
        failure::PROTOCOL,
        format!("unexpected frame from the device: {line}"),
    )
}

/// `@end ok <bytes> <crc32>` must match what arrived: nothing lost on the serial line.
fn check_summary(summary: &str, body: &[u8]) -> Result<(), Failure> {
    let (len, crc) = summary.split_once(' ').ok_or_else(|| protocol(summary))?;
    let crc_ok = u32::from_str_radix(crc, 16).is_ok_and(|c| c == mreq_fwconfig::crc32(body));
    if len.parse::<usize>().ok() != Some(body.len()) || !crc_ok {
        return Err(Failure {
            code: failure::RECEIVE,
            message: format!(
                "body damaged on the serial line (device sent {summary}, got {} bytes)",
                body.len()
            ),
        });
    }
    Ok(())
}

/// Exit codes for the engine errors the device reports (their `Display` texts).
fn error_code(message: &str) -> u8 {
    let starts = |p: &str| message.starts_with(p);
    if starts("could not resolve") {
        failure::DNS
    } else if starts("could not connect") {
        failure::CONNECT
    } else if starts("timed out") {
        failure::TIMEOUT
    } else if starts("TLS certificate") {
        failure::CERTIFICATE
    } else if starts("TLS") {
        failure::TLS
    } else if starts("too many redirects") || starts("refused redirect") {
        failure::REDIRECTS
    } else if starts("invalid") || starts("unsupported URL") {
        failure::USAGE
    } else {
        failure::PROTOCOL
    }
}

pub fn run(port: &str, args: &Args, plans: &[Plan], out: &mut Stdout) -> Result<u8, Failure> {
    let [plan] = plans else {
        return Err(Failure::new(
            failure::USAGE,
            format!("--device takes one URL per call ({} given)", plans.len()),
        ));
    };
    let timeout = crate::send::seconds("--timeout", args.timeout, 30.0)?
        .unwrap_or(Duration::from_secs(24 * 3600));
    let print = PrintSpec::from_args(args, out.is_terminal(), false).map_err(Failure::usage)?;
    let style = Style::new(args.pretty, out.is_terminal());
    let request = encode_request(plan)?;
    if print.request_head || print.request_body {
        crate::send::print_planned(out, plan, print, style)
            .map_err(|e| crate::run::output_failure(&e))?;
        out.flush().map_err(|e| crate::run::output_failure(&e))?;
    }
    let mut line = open(port, timeout)?;
    line.write_all(&request)
        .and_then(|()| line.flush())
        .map_err(|e| {
            Failure::new(
                failure::RECEIVE,
                format!("could not send to the device: {e}"),
            )
        })?;
    let response = decode_response(&mut BufReader::new(line), &mut |warning| {
        eprintln!("mreq: warning from the device: {warning}")
    })?;
    let write = |e: io::Error| crate::run::output_failure(&e);
    let terminal = out.is_terminal();
    if print.response_head {
        output::print_head(out, &response.head, style, terminal).map_err(write)?;
    }
    if print.response_body {
        let content_type = content_type(&response.head);
        let charset = output::charset(content_type.as_deref());
        let json = output::is_json_type(content_type.as_deref());
        if terminal && output::looks_binary(&response.body, charset) {
            out.write_all(output::BINARY_NOTE.as_bytes())
                .map_err(write)?;
        } else {
            output::print_received(out, &response.body, charset, json, style, terminal)
                .map_err(write)?;
        }
    }
    out.flush().map_err(write)?;
    Ok(if args.check_status {
        failure::status_code(response.status).unwrap_or(0)
    } else {
        0
    })
}

fn content_type(head: &[u8]) -> Option<String> {
    String::from_utf8_lossy(head).lines().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(method: &str, url: &str, body: Body, headers: &[(&str, &str)]) -> Plan {
        Plan {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            auth: None,
            body,
        }
    }

    #[test]
    fn encodes_requests() {
        let p = plan(
            "POST",
            "http://10.0.2.2/post",
            Body::Bytes(b"hi".to_vec()),
            &[("User-Agent", crate::plan::USER_AGENT), ("Accept", "*/*")],
        );
        assert_eq!(
            encode_request(&p).unwrap(),
            b"@req POST http://10.0.2.2/post 2 1\nAccept: */*\nhi",
            "the default agent stays home: the board sends its own"
        );
        let own = plan(
            "GET",
            "http://h/",
            Body::None,
            &[("User-Agent", "custom/1")],
        );
        assert_eq!(
            encode_request(&own).unwrap(),
            b"@req GET http://h/ 0 1\nUser-Agent: custom/1\n",
            "a User-Agent the user gave goes to the board"
        );
        let mut with_auth = plan("GET", "http://h/", Body::None, &[]);
        with_auth.auth = Some(crate::plan::AuthSpec::Basic("joe".into(), "pw".into()));
        assert_eq!(
            encode_request(&with_auth).unwrap(),
            b"@req GET http://h/ 0 1\nAuthorization: Basic am9lOnB3\n"
        );
        with_auth.auth = Some(crate::plan::AuthSpec::Bearer("tkn".into()));
        assert_eq!(
            encode_request(&with_auth).unwrap(),
            b"@req GET http://h/ 0 1\nAuthorization: Bearer tkn\n"
        );
        let big = plan("POST", "http://h/", Body::Bytes(vec![0; MAX_BODY + 1]), &[]);
        assert_eq!(encode_request(&big).err().map(|f| f.code), Some(2));
    }

    #[test]
    fn decodes_frames_and_skips_console_lines() {
        let body = b"{\"a\": 1}";
        let wire = format!(
            "boot noise\r\nmreq> \n@status 200 OK\n@header Content-Type: application/json\n@body {}\n{}@end ok {} {:08x}\nmem: ...\r\n",
            body.len(),
            std::str::from_utf8(body).unwrap(),
            body.len(),
            mreq_fwconfig::crc32(body)
        );
        let got = decode_response(&mut wire.as_bytes(), &mut |_| {}).unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.body, body);
        assert_eq!(
            got.head,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
        );
    }

    #[test]
    fn damaged_or_failed_transfers_are_errors() {
        let damaged = "@status 200 OK\n@body 2\nhi@end ok 2 00000000\n";
        assert_eq!(
            decode_response(&mut damaged.as_bytes(), &mut |_| {})
                .err()
                .map(|f| f.code),
            Some(56)
        );
        let failed = "@end err could not connect: ConnectionRefused\n";
        assert_eq!(
            decode_response(&mut failed.as_bytes(), &mut |_| {})
                .err()
                .map(|f| f.code),
            Some(7)
        );
        let cut = "@status 200 OK\n@body 10\nabc";
        assert!(decode_response(&mut cut.as_bytes(), &mut |_| {}).is_err());
        let untrusted = "@end err TLS certificate error: invalid peer certificate: UnknownIssuer\n";
        assert_eq!(
            decode_response(&mut untrusted.as_bytes(), &mut |_| {})
                .err()
                .map(|f| f.code),
            Some(60)
        );
        let handshake = "@end err TLS error: received fatal alert: HandshakeFailure\n";
        assert_eq!(
            decode_response(&mut handshake.as_bytes(), &mut |_| {})
                .err()
                .map(|f| f.code),
            Some(35)
        );
    }

    #[test]
    fn warnings_are_passed_on_and_do_not_end_the_response() {
        let wire = "@warn TLS certificate verification is OFF\n@status 204 No Content\n@end ok 0 00000000\n";
        let mut warnings = Vec::new();
        let got =
            decode_response(&mut wire.as_bytes(), &mut |w| warnings.push(w.to_owned())).unwrap();
        assert_eq!(got.status, 204);
        assert_eq!(warnings, ["TLS certificate verification is OFF"]);
    }
}
