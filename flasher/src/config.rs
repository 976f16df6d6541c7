//! The configuration block from the command line (`--wifi-ssid`, `--ip`, `--startup-url`, ...).

use anyhow::{bail, Context, Result};
use mreq_fwconfig::{Builder, Ipv4Cidr, BLOCK_SIZE};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Wi-Fi network name.
    #[arg(long, value_name = "SSID")]
    pub wifi_ssid: Option<String>,
    /// Wi-Fi password (WPA2: 8 to 63 characters, or 64 hex digits). On the command line it is
    /// visible to `ps` and kept in shell history: prefer --wifi-pass-file, the environment
    /// variable MREQ_WIFI_PASS, or the prompt (--wifi-ssid alone, on a terminal).
    #[arg(long, value_name = "PASSWORD", conflicts_with = "wifi_pass_file")]
    pub wifi_pass: Option<String>,
    /// Read the Wi-Fi password from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub wifi_pass_file: Option<PathBuf>,
    /// Static address instead of DHCP.
    #[arg(long, value_name = "ADDR/NN")]
    pub ip: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<Ipv4Addr>,
    /// DNS server (up to three).
    #[arg(long, value_name = "ADDR")]
    pub dns: Vec<Ipv4Addr>,
    /// A request the firmware makes at start-up.
    #[arg(long, value_name = "URL")]
    pub startup_url: Option<String>,
    /// CA certificates (PEM) the firmware trusts for https.
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// Let the firmware skip TLS certificate verification (it warns at every request).
    #[arg(long)]
    pub insecure: bool,
    /// SNTP server for the firmware's clock (certificate dates), `HOST` or `HOST:PORT`
    /// [firmware default: pool.ntp.org].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub ntp: Option<String>,
    /// A setting for your own firmware, read with `Config::app_setting("NAME")` (repeatable;
    /// `config set` replaces the settings of the names it gives and keeps the others).
    #[arg(long = "app-setting", value_name = "NAME=VALUE")]
    pub app_setting: Vec<String>,
    /// A ready configuration block (4096 bytes) instead of the options above.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["wifi_ssid", "wifi_pass", "wifi_pass_file", "ip", "gateway", "dns", "startup_url", "cacert", "insecure", "ntp", "app_setting"])]
    pub config: Option<PathBuf>,
    /// Write an empty configuration, erasing what the board has (without configuration options
    /// the board keeps its own).
    #[arg(long, conflicts_with_all = ["wifi_ssid", "wifi_pass", "wifi_pass_file", "ip", "gateway", "dns", "startup_url", "cacert", "insecure", "ntp", "app_setting", "config"])]
    pub config_reset: bool,
}

impl ConfigArgs {
    /// Whether any option says what the configuration should be.
    pub fn given(&self) -> bool {
        let ConfigArgs {
            wifi_ssid,
            wifi_pass,
            wifi_pass_file,
            ip,
            gateway,
            dns,
            startup_url,
            cacert,
            insecure,
            ntp,
            app_setting,
            config,
            config_reset,
        } = self;
        wifi_ssid.is_some()
            || wifi_pass.is_some()
            || wifi_pass_file.is_some()
            || ip.is_some()
            || gateway.is_some()
            || !dns.is_empty()
            || startup_url.is_some()
            || !cacert.is_empty()
            || *insecure
            || ntp.is_some()
            || !app_setting.is_empty()
            || config.is_some()
            || *config_reset
    }

    /// The block to write (erased-flash filler after the used part), validated by parsing it
    /// back; `None` when no option asks for one: the board keeps the configuration it has.
    pub fn block(&self) -> Result<Option<Vec<u8>>> {
        if !self.given() {
            return Ok(None);
        }
        self.new_block().map(Some)
    }

    fn new_block(&self) -> Result<Vec<u8>> {
        if let Some(path) = &self.config {
            let block =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            if block.len() > BLOCK_SIZE {
                bail!(
                    "{}: {} bytes, a configuration block is at most {BLOCK_SIZE}",
                    path.display(),
                    block.len()
                );
            }
            mreq_fwconfig::Config::parse(&block).with_context(|| {
                format!("{} is not a valid configuration block", path.display())
            })?;
            let mut padded = vec![0xFF; BLOCK_SIZE];
            padded[..block.len()].copy_from_slice(&block);
            return Ok(padded);
        }
        if (self.wifi_pass.is_some() || self.wifi_pass_file.is_some()) && self.wifi_ssid.is_none() {
            bail!("--wifi-pass needs --wifi-ssid");
        }
        if self.dns.len() > 3 {
            bail!("at most three --dns servers");
        }
        let certs = self.ca_certs()?;
        let mut block = vec![0xFFu8; BLOCK_SIZE];
        let mut builder = Builder::new(&mut block);
        let password = match &self.wifi_ssid {
            Some(ssid) => self.wifi_password(ssid)?,
            None => String::new(),
        };
        if let Some(ssid) = &self.wifi_ssid {
            builder.wifi(ssid, &password);
        }
        if let Some(ip) = &self.ip {
            builder.static_ipv4(parse_cidr(ip)?);
        }
        if let Some(gateway) = self.gateway {
            builder.gateway(gateway.octets());
        }
        for dns in &self.dns {
            builder.dns(dns.octets());
        }
        if let Some(url) = &self.startup_url {
            builder.startup_url(url);
        }
        for der in &certs {
            builder.ca_cert_der(der);
        }
        if self.insecure {
            builder.tls_insecure();
        }
        if let Some(server) = &self.ntp {
            check_ntp_server(server)?;
            builder.ntp_server(server);
        }
        for setting in &self.app_setting {
            let (name, value) = parse_app_setting(setting)?;
            builder.app_setting(name, value);
        }
        builder.finish().map_err(|e| {
            anyhow::anyhow!(
                "configuration: {e} (SSID up to 32 bytes, password up to 64, all in 4 KiB)"
            )
        })?;
        Ok(block)
    }

    /// The password from the first of: --wifi-pass, --wifi-pass-file, MREQ_WIFI_PASS, a prompt
    /// on a terminal; empty (an open network) when none gives one. Checked as WPA2 takes it.
    pub fn wifi_password(&self, ssid: &str) -> Result<String> {
        let password = if let Some(pass) = &self.wifi_pass {
            pass.clone()
        } else if let Some(path) = &self.wifi_pass_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            text.lines().next().unwrap_or("").to_string()
        } else if let Ok(pass) = std::env::var("MREQ_WIFI_PASS") {
            pass
        } else {
            prompt_password(ssid)?
        };
        check_wpa2(&password)?;
        Ok(password)
    }

    pub fn ca_certs(&self) -> Result<Vec<Vec<u8>>> {
        let mut all = Vec::new();
        for path in &self.cacert {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("{}: bad PEM", path.display()))?;
            if certs.is_empty() {
                bail!("{}: no certificates", path.display());
            }
            all.extend(certs.into_iter().map(|c| c.to_vec()));
        }
        Ok(all)
    }
}

/// `HOST` or `HOST:PORT`, as the firmware reads it (no scheme, no path, a port that is a number).
/// `NAME=VALUE` with a NAME that is not empty (the value may be, and may hold `=`).
fn parse_app_setting(setting: &str) -> Result<(&str, &str)> {
    match setting.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => bail!("--app-setting {setting:?}: expected NAME=VALUE"),
    }
}

pub(crate) fn check_ntp_server(server: &str) -> Result<()> {
    let host = match server.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .with_context(|| format!("--ntp {server}: bad port"))?;
            host
        }
        None => server,
    };
    if host.is_empty() || host.contains(['/', ' ', ':']) {
        bail!("--ntp {server}: expected HOST or HOST:PORT");
    }
    Ok(())
}

fn parse_cidr(text: &str) -> Result<Ipv4Cidr> {
    let (address, prefix) = text
        .split_once('/')
        .with_context(|| format!("--ip {text}: expected ADDR/NN"))?;
    let address: Ipv4Addr = address
        .parse()
        .with_context(|| format!("--ip {text}: bad address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .with_context(|| format!("--ip {text}: prefix must be 0-32"))?;
    Ok(Ipv4Cidr {
        address: address.octets(),
        prefix,
    })
}

/// WPA2-Personal takes a passphrase of 8 to 63 printable ASCII characters or a 64-digit hex
/// key; an empty one means an open network.
fn check_wpa2(password: &str) -> Result<()> {
    let hex_key = password.len() == 64 && password.bytes().all(|b| b.is_ascii_hexdigit());
    let passphrase =
        (8..=63).contains(&password.len()) && password.bytes().all(|b| (0x20..0x7f).contains(&b));
    if password.is_empty() || hex_key || passphrase {
        return Ok(());
    }
    bail!(
        "the Wi-Fi password has {} characters: WPA2 takes 8 to 63 printable ASCII characters, or 64 hex digits",
        password.chars().count()
    )
}

/// Asks on the terminal, without echo; not a terminal: no password (an open network).
fn prompt_password(ssid: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(String::new());
    }
    eprint!("Wi-Fi password for {ssid:?} (empty for an open network): ");
    let _ = std::io::stderr().flush();
    let _quiet = crate::monitor::NoEcho::no_echo();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password")?;
    eprintln!();
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_block_the_firmware_reads() {
        let args = ConfigArgs {
            wifi_ssid: Some("home".into()),
            wifi_pass: Some("pw".into()),
            ip: Some("10.0.2.16/24".into()),
            gateway: Some("10.0.2.2".parse().unwrap()),
            dns: vec!["10.0.2.3".parse().unwrap()],
            startup_url: Some("http://10.0.2.2/get".into()),
            ntp: Some("10.0.2.2:1123".into()),
            ..ConfigArgs::default()
        };
        assert!(
            args.block().is_err(),
            "a 2-character WPA2 password is refused"
        );
        let args = ConfigArgs {
            wifi_pass: Some("long enough".into()),
            ..args
        };
        let block = args.block().unwrap().expect("options given: a block");
        assert_eq!(block.len(), BLOCK_SIZE);
        let config = mreq_fwconfig::Config::parse(&block).unwrap();
        assert_eq!(config.wifi_ssid(), Some("home"));
        assert_eq!(
            config.static_ipv4(),
            Some(Ipv4Cidr {
                address: [10, 0, 2, 16],
                prefix: 24
            })
        );
        assert_eq!(config.startup_url(), Some("http://10.0.2.2/get"));
        assert_eq!(config.ntp_server(), Some("10.0.2.2:1123"));
    }

    #[test]
    fn no_options_mean_no_block_and_reset_an_empty_one() {
        assert_eq!(ConfigArgs::default().block().unwrap(), None);
        let reset = ConfigArgs {
            config_reset: true,
            ..ConfigArgs::default()
        };
        let block = reset.block().unwrap().expect("an empty block");
        let config = mreq_fwconfig::Config::parse(&block).expect("valid");
        assert_eq!(config.startup_url(), None);
        assert_eq!(config.wifi_ssid(), None);
    }

    #[test]
    fn rejects_bad_options() {
        let bad_ip = ConfigArgs {
            ip: Some("10.0.2.16".into()),
            ..ConfigArgs::default()
        };
        assert!(bad_ip.block().is_err());
        let long_ssid = ConfigArgs {
            wifi_ssid: Some("x".repeat(40)),
            ..ConfigArgs::default()
        };
        assert!(long_ssid.block().is_err());
        let pass_only = ConfigArgs {
            wifi_pass: Some("pw".into()),
            ..ConfigArgs::default()
        };
        assert!(pass_only.block().is_err());
        for (password, ok) in [
            ("", true),
            ("12345678", true),
            (&*"a".repeat(63), true),
            (&*"0f".repeat(32), true),
            ("1234567", false),
            (&*"z".repeat(64), false),
            ("pässwörter", false),
        ] {
            assert_eq!(check_wpa2(password).is_ok(), ok, "{password:?}");
        }
        let dir = std::env::temp_dir().join(format!("mreq-wifi-{}", std::process::id()));
        std::fs::write(&dir, "from a file\nsecond line\n").unwrap();
        let from_file = ConfigArgs {
            wifi_ssid: Some("home".into()),
            wifi_pass_file: Some(dir.clone()),
            ..ConfigArgs::default()
        };
        let block = from_file.block().unwrap().unwrap();
        let _ = std::fs::remove_file(&dir);
        let config = mreq_fwconfig::Config::parse(&block).unwrap();
        assert_eq!(config.wifi_password(), Some("from a file"));
        for bad in [
            "",
            "http://pool.ntp.org",
            "host:",
            "host:0",
            "host:99999",
            ":123",
        ] {
            let ntp = ConfigArgs {
                ntp: Some(bad.into()),
                ..ConfigArgs::default()
            };
            assert!(ntp.block().is_err(), "--ntp {bad:?} accepted");
        }
    }
}
