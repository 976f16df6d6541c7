//! No flag is silently dropped: a flag that has nothing to act on in the mode it meets (sending
//! nothing with `--offline`, running on a board with `--device`, a file option without a file) is
//! refused by name with exit 2. `cli/tests/flags.rs` walks every flag through every mode.

use crate::args::Args;
use crate::failure::{self, Failure};

/// A flag as the user sees it, whether it was given, and whether `--offline` and `--device`
/// refuse it: the first need an exchange, the second the board's own configuration decides (its
/// TLS trust comes from its configuration block, not from the host).
struct Flag {
    given: bool,
    name: &'static str,
    offline: bool,
    device: bool,
}

/// Every flag that some mode refuses, once.
fn flags(args: &Args) -> [Flag; 28] {
    let flag = |given, name, offline, device| Flag {
        given,
        name,
        offline,
        device,
    };
    [
        flag(!args.output.is_empty(), "-o/--output", true, false),
        flag(args.remote_name, "-O/--remote-name", true, false),
        flag(args.download, "--download", true, false),
        flag(args.resume, "--continue", true, false),
        flag(args.continue_at.is_some(), "-C/--continue-at", true, false),
        flag(args.fail, "-f/--fail", true, false),
        // Nothing is received offline to write back (--session-read-only applies).
        flag(args.session.is_some(), "--session", true, false),
        flag(args.fail_with_body, "--fail-with-body", true, false),
        flag(args.follow, "-L/--follow", true, false),
        flag(args.max_redirects.is_some(), "--max-redirects", true, false),
        flag(args.insecure, "-k/--insecure", true, true),
        flag(!args.cacert.is_empty(), "--cacert", true, true),
        flag(args.cert.is_some(), "--cert", true, true),
        flag(args.key.is_some(), "--key", true, true),
        flag(args.timeout.is_some(), "--timeout", true, false),
        flag(
            args.connect_timeout.is_some(),
            "--connect-timeout",
            true,
            false,
        ),
        flag(args.include, "-i/--include", true, false),
        flag(args.max_time.is_some(), "-m/--max-time", true, false),
        flag(args.retry.is_some(), "--retry", true, false),
        flag(args.write_out.is_some(), "-w/--write-out", true, false),
        // The board resolves names and reaches the network itself.
        flag(!args.resolve.is_empty(), "--resolve", true, true),
        flag(args.proxy.is_some(), "-x/--proxy", true, true),
        flag(args.proxy_user.is_some(), "-U/--proxy-user", true, true),
        flag(args.noproxy.is_some(), "--noproxy", true, true),
        flag(args.proxytunnel, "-p/--proxytunnel", true, true),
        flag(args.unix_socket.is_some(), "--unix-socket", true, true),
        flag(args.check_status, "--check-status", true, false),
        flag(args.device.is_some(), "--device", true, false),
    ]
}

/// The given flags the mode (`pick`) refuses, by name.
fn named(args: &Args, pick: impl Fn(&Flag) -> bool) -> Vec<&'static str> {
    flags(args)
        .iter()
        .filter(|f| f.given && pick(f))
        .map(|f| f.name)
        .collect()
}

fn refuse(message: String) -> Result<(), Failure> {
    Err(Failure::new(failure::USAGE, message))
}

/// Checks the flags against the mode of the invocation, before anything is sent.
pub fn check(args: &Args) -> Result<(), Failure> {
    if args.offline {
        let unused = named(args, |f| f.offline);
        if !unused.is_empty() {
            return refuse(format!(
                "--offline sends nothing, so {} has nothing to do",
                unused.join(", ")
            ));
        }
    }
    if args.device.is_some() {
        let unused = named(args, |f| f.device);
        if !unused.is_empty() {
            return refuse(format!(
                "--device: {} cannot apply: the board reaches the network, resolves names and trusts certificates as its configuration says (mreq-flash --cacert, --tls-insecure)",
                unused.join(", ")
            ));
        }
    }
    if args.compressed && args.resuming() {
        return refuse(format!(
            "--compressed decodes what it saves, and {} resumes the bytes as sent: give one",
            args.resume_flag()
        ));
    }
    if args.fail && args.fail_with_body {
        return refuse("give -f/--fail or --fail-with-body, not both".into());
    }
    if args.max_redirects.is_some() && !args.follow {
        return refuse("--max-redirects limits -L/--follow: give -L too".into());
    }
    if args.remote_name && !args.output.is_empty() {
        return refuse("give -o FILE or -O (the name from the URL), not both".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(words: &[&str]) -> Option<String> {
        let args = Args::try_parse_ordered(std::iter::once("mreq").chain(words.iter().copied()))
            .expect("parses");
        check(&args).err().map(|f| f.message)
    }

    #[test]
    fn offline_refuses_what_needs_an_exchange() {
        let message = refused(&["--offline", "-L", "--timeout", "3", "http://h/"]);
        let message = message.expect("refused");
        assert!(message.contains("-L/--follow") && message.contains("--timeout"));
        assert_eq!(refused(&["--offline", "-H", "A: b", "http://h/"]), None);
    }

    #[test]
    fn device_refuses_what_the_board_decides() {
        let message = refused(&["--device", "tcp:h:1", "--cacert", "f", "http://h/"]);
        assert!(message.expect("refused").contains("--cacert"));
        assert_eq!(
            refused(&["--device", "tcp:h:1", "-o", "f", "http://h/"]),
            None
        );
        assert_eq!(
            refused(&["--device", "tcp:h:1", "-u", "a:b", "http://h/"]),
            None
        );
    }

    #[test]
    fn lone_modifiers_are_refused() {
        assert!(refused(&["--max-redirects", "3", "http://h/"]).is_some());
        assert!(refused(&["-O", "-o", "f", "http://h/"]).is_some());
    }
}
