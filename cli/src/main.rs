//! `mreq`: the command-line HTTP client on the mreq engine.

mod args;
mod body;
mod cookies;
mod data;
mod decode;
mod deliver;
mod device;
mod download;
mod failure;
mod items;
mod meter;
mod multipart;
mod netrc;
mod output;
mod plan;
mod proxy;
mod refuse;
mod retry;
mod run;
mod send;
mod session;
mod sock;
mod stdout;
mod tls;
mod transport;
mod writeout;
mod zerocopy;

use clap::CommandFactory;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Args::parse_ordered();
    if let Some(shell) = args.completions {
        clap_complete::generate(
            shell,
            &mut args::Args::command(),
            "mreq",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    if args.man {
        let man = clap_mangen::Man::new(args::Args::command());
        return match man.render(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("mreq: {err}");
                ExitCode::from(failure::OTHER)
            }
        };
    }
    match run::run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            failure.report(&args);
            ExitCode::from(failure.code)
        }
    }
}
