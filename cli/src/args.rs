//! Command-line arguments: HTTPie's `[METHOD] URL [ITEM...]` plus the curl flags people type.

use clap::{ArgAction, Parser, ValueEnum};
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

    /// Extra header, curl style ("Name: value").
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// The method to use (curl's -X).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,

    /// Request body: text, @FILE, or - for stdin (curl's -d; several are joined with &).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub data: Vec<String>,

    /// JSON request body (text, @FILE or -), sent with JSON Content-Type and Accept.
    #[arg(long = "json", value_name = "DATA")]
    pub json: Option<String>,

    /// Send fields as a form (application/x-www-form-urlencoded, multipart with file fields).
    #[arg(short = 'f', long = "form")]
    pub form: bool,

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

    /// Resume a partial download (-o/-O/--download) with a Range request.
    #[arg(short = 'c', long = "continue")]
    pub resume: bool,

    /// Follow redirects.
    #[arg(short = 'L', long = "follow")]
    pub follow: bool,

    /// Redirects followed at most (with -L; default 30).
    #[arg(long = "max-redirects", value_name = "N")]
    pub max_redirects: Option<u8>,

    /// Basic auth USER:PASSWORD (without ":PASSWORD" the password is empty).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub user: Option<String>,

    /// Bearer token auth.
    #[arg(long = "bearer", value_name = "TOKEN")]
    pub bearer: Option<String>,

    /// Do not verify TLS certificates (says so on stderr).
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,

    /// Also trust the CA certificates in this PEM file.
    #[arg(long = "cacert", value_name = "PATH")]
    pub cacert: Vec<PathBuf>,

    /// Do not read a body from a piped stdin (for scripts and cron jobs).
    #[arg(long = "ignore-stdin")]
    pub ignore_stdin: bool,

    /// Seconds to wait for each read or write (default 30; 0: no limit).
    #[arg(long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Seconds to wait for the connection (default 10; 0: no limit).
    #[arg(long = "connect-timeout", value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,

    /// Print the whole exchange: request and response heads and bodies.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Send HEAD and print the response head.
    #[arg(short = 'I', long = "head")]
    pub head: bool,

    /// Print the response head before the body.
    #[arg(short = 'i', long = "include")]
    pub include: bool,

    /// No progress bar and no warnings (errors are still printed).
    #[arg(short = 's', long = "silent")]
    pub silent: bool,

    /// What to print: H request head, B request body, h response head, b response body.
    #[arg(short = 'p', long = "print", value_name = "WHAT")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pretty {
    All,
    Colors,
    Format,
    None,
}
