//! What a line typed at the console asks for.

/// One shell command. Borrowed from the line it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `get URL`, `post URL body text`, ...: a request printed for a person.
    Request {
        method: &'a str,
        url: &'a str,
        body: &'a [u8],
    },
    Help,
    Memory,
    /// `net`: address, gateway, link state.
    Network,
    /// `time`: the wall clock (asks the SNTP server again when it is not known).
    Time,
    Empty,
    Unknown,
}

/// Methods a person can type as the first word (any case).
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub fn parse(line: &[u8]) -> Command<'_> {
    let Ok(text) = core::str::from_utf8(line) else {
        return Command::Unknown;
    };
    let text = text.trim();
    let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
    if word.is_empty() {
        return Command::Empty;
    }
    if word.eq_ignore_ascii_case("help") || word == "?" {
        return Command::Help;
    }
    if word.eq_ignore_ascii_case("mem") {
        return Command::Memory;
    }
    if word.eq_ignore_ascii_case("net") {
        return Command::Network;
    }
    if word.eq_ignore_ascii_case("time") {
        return Command::Time;
    }
    let Some(method) = METHODS.iter().find(|m| m.eq_ignore_ascii_case(word)) else {
        return Command::Unknown;
    };
    let rest = rest.trim_start();
    let (url, body) = rest.split_once(' ').unwrap_or((rest, ""));
    if url.is_empty() {
        return Command::Unknown;
    }
    Command::Request {
        method,
        url,
        body: body.as_bytes(),
    }
}

pub const HELP: &str = "commands:\r\n  get URL | head URL | delete URL | options URL\r\n  post URL [body text] | put URL [body text] | patch URL [body text]\r\n  mem    heap and stack use\r\n  net    network address and link\r\n  time   the clock (SNTP; https needs it)\r\n  help   this text\r\nprograms: mreq --device (firmware/PROTOCOL.md)\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_commands() {
        assert_eq!(
            parse(b"get http://10.0.2.2/get"),
            Command::Request {
                method: "GET",
                url: "http://10.0.2.2/get",
                body: b""
            }
        );
        assert_eq!(
            parse(b"  POST  http://h/p hello world "),
            Command::Request {
                method: "POST",
                url: "http://h/p",
                body: b"hello world"
            }
        );
        assert_eq!(parse(b"help"), Command::Help);
        assert_eq!(parse(b"mem"), Command::Memory);
        assert_eq!(parse(b"NET"), Command::Network);
        assert_eq!(parse(b"time"), Command::Time);
        assert_eq!(parse(b""), Command::Empty);
        assert_eq!(parse(b"get"), Command::Unknown);
        assert_eq!(parse(b"fetch http://h/"), Command::Unknown);
        assert_eq!(parse(b"\xff\xfe"), Command::Unknown);
    }
}
