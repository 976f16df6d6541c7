//! The smallest useful client: `cargo run -p mreq-core --example get -- http://httpbin.org/get`.
//! Prints the status line and headers to stderr and streams the body to stdout.

use mreq_core::client::blocking::Client;
use mreq_core::client::tcp::TcpConnector;
use mreq_core::client::Request;
use std::io::Write;

fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: get URL");
        std::process::exit(2);
    };
    if let Err(err) = run(&url) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = Client::new(TcpConnector::default());
    let mut buf = [0u8; 8192];
    let mut response = client.send(&Request::get(url), &mut buf)?;
    eprintln!(
        "{} {} {}",
        response.version(),
        response.status(),
        response.reason()
    );
    for (name, value) in response.head().headers() {
        eprintln!("{name}: {}", String::from_utf8_lossy(value));
    }
    let stdout = std::io::stdout();
    response.copy_to(&mut stdout.lock())?;
    stdout.lock().flush()?;
    Ok(())
}
