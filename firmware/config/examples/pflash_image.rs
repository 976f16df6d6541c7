//! Writes a QEMU pflash image (32 MiB, erased flash = 0xFF) that holds a configuration block at its
//! start: `cargo run -p mreq-fwconfig --example pflash_image -- OUT [--startup-url URL]
//! [--ip A.B.C.D/NN --gateway A.B.C.D --dns A.B.C.D] [--insecure]`. Used by scripts/qemu-*.sh until
//! `mreq-flash --board qemu` does it.

use mreq_fwconfig::{Builder, Ipv4Cidr, BLOCK_SIZE};
use std::process::ExitCode;

const PFLASH_SIZE: usize = 32 * 1024 * 1024;

fn ipv4(text: &str) -> Result<[u8; 4], String> {
    let addr: std::net::Ipv4Addr = text
        .parse()
        .map_err(|_| format!("not an IPv4 address: {text}"))?;
    Ok(addr.octets())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or(
        "usage: pflash_image OUT [--startup-url URL] [--ip A.B.C.D/NN] [--gateway IP] [--dns IP]",
    )?;
    let mut block = vec![0xFFu8; BLOCK_SIZE];
    let mut builder = Builder::new(&mut block);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--startup-url" => {
                builder.startup_url(&value()?);
            }
            "--ip" => {
                let text = value()?;
                let (addr, prefix) = text.split_once('/').ok_or("--ip wants A.B.C.D/NN")?;
                let prefix = prefix.parse().map_err(|_| "bad prefix length")?;
                builder.static_ipv4(Ipv4Cidr {
                    address: ipv4(addr)?,
                    prefix,
                });
            }
            "--gateway" => {
                builder.gateway(ipv4(&value()?)?);
            }
            "--dns" => {
                builder.dns(ipv4(&value()?)?);
            }
            "--insecure" => {
                builder.tls_insecure();
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let used = builder.finish().map_err(|e| e.to_string())?;
    let mut image = vec![0xFFu8; PFLASH_SIZE];
    image[..used].copy_from_slice(&block[..used]);
    std::fs::write(&out, image).map_err(|e| format!("cannot write {out}: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pflash_image: {err}");
            ExitCode::from(2)
        }
    }
}
