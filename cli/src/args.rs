//! Command-line arguments: HTTPie's `[METHOD] URL [ITEM...]` plus the curl flags people type.

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mreq",
    version,
    about = "HTTP client for people and scripts: curl and HTTPie habits both work",
    after_help = crate::failure::after_help()
)]
pub struct Args {
    /// [METHOD] URL [ITEM...], repeated for several requests: the method is optional (GET, or
    /// POST when there is a body); items belong to the URL before them, flags apply to every URL.
    #[arg(value_name = "[METHOD] URL [ITEM]", num_args = 0..)]
    pub words: Vec<String>,

    /// Extra header, curl style ("Name: value"; "Name:" removes one); @FILE reads one header
    /// per line.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// The User-Agent header (curl's -A; "" sends none).
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    pub user_agent: Option<String>,

    /// The Referer header (curl's -e).
    #[arg(short = 'e', long = "referer", value_name = "URL")]
    pub referer: Option<String>,

    /// The method to use (curl's -X).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,

    /// Request body as curl's -d: text, or @FILE / @- (stdin) with CR and LF removed; several
    /// -d, --data-* are joined with & in the order given.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Vec<String>,

    /// Request body as given: text, or @FILE / @- streamed byte for byte (curl's --data-binary).
    #[arg(long = "data-binary", value_name = "DATA")]
    pub data_binary: Vec<String>,

    /// Request body text, an @ included (curl's --data-raw).
    #[arg(long = "data-raw", value_name = "DATA")]
    pub data_raw: Vec<String>,

    /// A form value, URL-encoded: CONTENT, =CONTENT, NAME=CONTENT, @FILE or NAME@FILE (curl's).
    #[arg(long = "data-urlencode", value_name = "DATA")]
    pub data_urlencode: Vec<String>,

    /// Send the -d data in the URL's query with GET instead of as a body (curl's -G).
    #[arg(short = 'G', long = "get")]
    pub get: bool,

    /// Upload FILE (or - for stdin) as the body of a PUT, streamed (curl's -T); a URL ending
    /// in / gets the file's name appended.
    #[arg(short = 'T', long = "upload-file", value_name = "FILE")]
    pub upload_file: Option<String>,

    /// The data of each -d/--data-* flag, in the order given (filled after parsing).
    #[arg(skip)]
    pub data_in_order: Vec<DataArg>,

    /// JSON request body (text, @FILE or -), sent with JSON Content-Type and Accept.
    #[arg(long = "json", value_name = "DATA")]
    pub json: Option<String>,

    /// HTTPie's: send the fields as a form (urlencoded, or multipart with file fields). No
    /// short flag: -f is curl's --fail.
    #[arg(long = "form")]
    pub form: bool,

    /// A multipart field, curl's -F: NAME=VALUE, NAME=@FILE (a file), NAME=<FILE (its text as
    /// the value), each with optional ;type=MIME and (for @) ;filename=NAME.
    #[arg(short = 'F', value_name = "NAME=CONTENT")]
    pub form_fields: Vec<String>,

    /// A multipart field taken literally: NAME=VALUE, no @, < or ; rules (curl's).
    #[arg(long = "form-string", value_name = "NAME=VALUE")]
    pub form_strings: Vec<String>,

    /// The -F and --form-string fields in the order given (filled after parsing).
    #[arg(skip)]
    pub form_in_order: Vec<FormArg>,

    /// A 4xx or 5xx response is a failure: exit 22 with nothing on stdout (curl's -f;
    /// before mreq 0.2, -f meant --form).
    #[arg(short = 'f', long = "fail")]
    pub fail: bool,

    /// Like --fail, with the response body still printed or saved.
    #[arg(long = "fail-with-body")]
    pub fail_with_body: bool,

    /// Write the body to FILE instead of stdout (a download, with a progress bar); "-" is stdout.
    /// With several URLs, each -o goes with the next URL in order, as in curl.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Vec<PathBuf>,

    /// Write the body to a file named like the URL's last path segment.
    #[arg(short = 'O', long = "remote-name")]
    pub remote_name: bool,

    /// Download the body to a file (name from -o, or from the URL).
    #[arg(long = "download")]
    pub download: bool,

    /// HTTPie's: resume a partial download (-o/-O/--download) with a Range request. No short
    /// flag: -c is curl's cookie jar, and -C - does the same.
    #[arg(long = "continue")]
    pub resume: bool,

    /// Resume from OFFSET, or from the end of the output file with - (curl's -C).
    #[arg(
        short = 'C',
        long = "continue-at",
        value_name = "OFFSET",
        allow_hyphen_values = true
    )]
    pub continue_at: Option<String>,

    /// Follow redirects.
    #[arg(short = 'L', long = "follow")]
    pub follow: bool,

    /// Redirects followed at most (with -L; default 30).
    #[arg(long = "max-redirects", value_name = "N")]
    pub max_redirects: Option<u8>,

    /// Basic auth USER:PASSWORD (without ":PASSWORD" the password is empty).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub user: Option<String>,

    /// Take the login for each host from ~/.netrc when no -u is given (curl's -n).
    #[arg(short = 'n', long = "netrc")]
    pub netrc: bool,

    /// Like -n, from this file.
    #[arg(long = "netrc-file", value_name = "FILE")]
    pub netrc_file: Option<PathBuf>,

    /// Like -n (curl's; a missing file is no error either way).
    #[arg(long = "netrc-optional")]
    pub netrc_optional: bool,

    /// Bearer token auth.
    #[arg(long = "bearer", value_name = "TOKEN")]
    pub bearer: Option<String>,

    /// Do not verify TLS certificates (says so on stderr).
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file instead of the default roots (as curl).
    #[arg(long = "cacert", value_name = "PATH")]
    pub cacert: Vec<PathBuf>,

    /// A client certificate to show when the server asks (curl's): PEM, the chain, with the key
    /// unless --key names its file.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// The private key of --cert (PEM, not encrypted).
    #[arg(long = "key", value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Do not read a body from a piped stdin (for scripts and cron jobs).
    #[arg(long = "ignore-stdin")]
    pub ignore_stdin: bool,

    /// Seconds to wait for each read or write (default 30; 0: no limit).
    #[arg(long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Seconds to wait for the connection (default 10; 0: no limit).
    #[arg(long = "connect-timeout", value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,

    /// Ask for a compressed body and decode it, also when saving to a file (curl's; to stdout
    /// mreq does so by default). Without it -o/-O/--download save the bytes as sent.
    #[arg(long = "compressed")]
    pub compressed: bool,

    /// Seconds the whole transfer of each URL may take, connection to last byte (curl's -m;
    /// exit 28).
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS")]
    pub max_time: Option<f64>,

    /// Cookies to send: NAME=VALUE[; ...], or a FILE to read (Netscape format or Set-Cookie
    /// lines), which turns the cookie engine on (curl's -b; may be repeated).
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE")]
    pub cookie: Vec<String>,

    /// Keep every cookie received (across redirects and URLs) and write them to FILE at the end,
    /// Netscape format, mode 0600; - is stdout (curl's -c; before mreq 0.2, -c meant --continue).
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    pub cookie_jar: Option<PathBuf>,

    /// HTTPie's session: headers, auth and cookies kept between calls, in NAME (per host, under
    /// the config directory) or PATH.
    #[arg(long = "session", value_name = "NAME|PATH")]
    pub session: Option<String>,

    /// Like --session, without writing the session back.
    #[arg(long = "session-read-only", value_name = "NAME|PATH")]
    pub session_read_only: Option<String>,

    /// Use this proxy: [http://|socks5://|socks5h://][USER:PASSWORD@]HOST[:PORT] (port 1080 by
    /// default; "" for none). Without it http_proxy, https_proxy and all_proxy apply, as in curl.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub proxy: Option<String>,

    /// The proxy's USER:PASSWORD (curl's -U).
    #[arg(short = 'U', long = "proxy-user", value_name = "USER:PASSWORD")]
    pub proxy_user: Option<String>,

    /// Hosts reached without the proxy: names (with their subdomains), IPs, CIDR ranges, or *
    /// (instead of no_proxy).
    #[arg(long = "noproxy", value_name = "LIST")]
    pub noproxy: Option<String>,

    /// Send plain http through an HTTP proxy's CONNECT tunnel too (curl's -p).
    #[arg(short = 'p', long = "proxytunnel")]
    pub proxytunnel: bool,

    /// Connect to this Unix domain socket instead of the URL's host (the URL still names the
    /// Host and the path; curl's).
    #[arg(long = "unix-socket", value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,

    /// Retry a transient failure up to N times: timeouts and 408, 429, 500, 502, 503, 504
    /// (curl's --retry; the wait is Retry-After, else 1 s doubling).
    #[arg(long = "retry", value_name = "N")]
    pub retry: Option<u32>,

    /// Seconds between retries instead of the backoff (and of Retry-After).
    #[arg(long = "retry-delay", value_name = "SECONDS")]
    pub retry_delay: Option<f64>,

    /// No retry starts this many seconds after the first attempt.
    #[arg(long = "retry-max-time", value_name = "SECONDS")]
    pub retry_max_time: Option<f64>,

    /// Also retry a refused connection.
    #[arg(long = "retry-connrefused")]
    pub retry_connrefused: bool,

    /// Retry any failure (with -f, 4xx responses too).
    #[arg(long = "retry-all-errors")]
    pub retry_all_errors: bool,

    /// Connect to ADDR for HOST:PORT instead of resolving the name (curl's; the URL, Host and
    /// TLS name stay HOST). ADDR may be several, comma-separated; IPv6 in brackets.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,

    /// After each transfer, print FORMAT with curl's %{variables} (@FILE reads it from a file).
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub write_out: Option<String>,

    /// Print the whole exchange: request and response heads and bodies.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Send HEAD and print the response head.
    #[arg(short = 'I', long = "head")]
    pub head: bool,

    /// Print the response head before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,

    /// No progress bar, no warnings and no error messages (the exit status tells), as curl.
    #[arg(short = 's', long = "silent")]
    pub silent: bool,

    /// With -s, still print error messages (curl's -S, as in -sS).
    #[arg(short = 'S', long = "show-error")]
    pub show_error: bool,

    /// What to print: H request head, B request body, h response head, b response body (no
    /// short flag: -p is curl's proxy tunnel).
    #[arg(long = "print", value_name = "WHAT")]
    pub print: Option<String>,

    /// Output processing (default: all on a terminal, none when piped).
    #[arg(long = "pretty", value_enum)]
    pub pretty: Option<Pretty>,

    /// Print the request that would be sent, without sending it.
    #[arg(long = "offline")]
    pub offline: bool,

    /// Exit with 3/4/5 when the response is 3xx/4xx/5xx.
    #[arg(long = "check-status")]
    pub check_status: bool,

    /// Run the request on a board through its serial request shell (PORT or tcp:HOST:PORT).
    #[arg(long = "device", value_name = "PORT")]
    pub device: Option<String>,

    /// Print a shell completion script and exit.
    #[arg(long = "completions", value_name = "SHELL", value_enum)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long = "man", action = ArgAction::SetTrue)]
    pub man: bool,
}

/// One -d/--data-* flag's value, by flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataArg {
    /// `-d`: @FILE has its CR and LF removed.
    Ascii(String),
    /// `--data-binary`: @FILE as it is.
    Binary(String),
    /// `--data-raw`: the text, @ included.
    Raw(String),
    /// `--data-urlencode`.
    UrlEncode(String),
}

/// One multipart field flag's value, by flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormArg {
    /// `-F`: @, < and ;type= have their meaning.
    Field(String),
    /// `--form-string`: literal.
    Literal(String),
}

impl Args {
    /// Parses the command line, keeping the order of the flags whose order matters (curl joins
    /// -d and --data-* in the order given, and lays out -F fields so).
    pub fn parse_ordered() -> Args {
        Self::from_matches(Args::command().get_matches()).unwrap_or_else(|err| err.exit())
    }

    /// [`parse_ordered`](Self::parse_ordered) from these words (tests).
    #[cfg(test)]
    pub fn try_parse_ordered<I, T>(words: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(Args::command().try_get_matches_from(words)?)
    }

    /// Whether error messages are printed (`-s` hides them unless `-S`, as in curl).
    pub fn errors_shown(&self) -> bool {
        !self.silent || self.show_error
    }

    /// Whether a download resumes (HTTPie's `--continue`, curl's `-C`).
    pub fn resuming(&self) -> bool {
        self.resume || self.continue_at.is_some()
    }

    /// The resuming flag as the user gave it, for messages.
    pub fn resume_flag(&self) -> &'static str {
        if self.continue_at.is_some() {
            "-C/--continue-at"
        } else {
            "--continue"
        }
    }

    /// Whether a 4xx or 5xx response is a failure (exit 22).
    pub fn failing(&self) -> bool {
        self.fail || self.fail_with_body
    }

    fn from_matches(matches: clap::ArgMatches) -> Result<Args, clap::Error> {
        let mut args = Args::from_arg_matches(&matches)?;
        args.data_in_order = in_order(
            &matches,
            &[
                ("data", DataArg::Ascii as fn(String) -> DataArg),
                ("data_binary", DataArg::Binary),
                ("data_raw", DataArg::Raw),
                ("data_urlencode", DataArg::UrlEncode),
            ],
        );
        args.form_in_order = in_order(
            &matches,
            &[
                ("form_fields", FormArg::Field as fn(String) -> FormArg),
                ("form_strings", FormArg::Literal),
            ],
        );
        Ok(args)
    }
}

/// A flag's id and how its values are tagged.
type Tagged<T> = (&'static str, fn(String) -> T);

/// The values of several repeatable flags merged in command-line order, each tagged by `make`.
fn in_order<T>(matches: &clap::ArgMatches, flags: &[Tagged<T>]) -> Vec<T> {
    let mut tagged: Vec<(usize, T)> = Vec::new();
    for (id, make) in flags {
        let values = matches.get_many::<String>(id).into_iter().flatten();
        let indices = matches.indices_of(id).into_iter().flatten();
        tagged.extend(indices.zip(values).map(|(i, v)| (i, make(v.clone()))));
    }
    tagged.sort_by_key(|(i, _)| *i);
    tagged.into_iter().map(|(_, v)| v).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pretty {
    All,
    Colors,
    Format,
    None,
}
