//! Building a board's firmware with cargo, reading cargo's JSON messages for the ELF's path.

use anyhow::{bail, Context, Result};
use mreq_fwconfig::boards::{Board, BuildStatus};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository: the nearest parent of the working directory with `firmware/boards`, else the
/// one this flasher was built from.
pub fn repo_root() -> PathBuf {
    let mut dir = std::env::current_dir().ok();
    while let Some(candidate) = dir {
        if candidate.join("firmware/boards").is_dir() {
            return candidate;
        }
        dir = candidate.parent().map(Path::to_path_buf);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn board_dir(root: &Path, board: &Board) -> PathBuf {
    root.join("firmware/boards").join(board.crate_dir)
}

/// The cargo arguments that build `board` in its crate: the Espressif toolchain where it needs
/// one, its target, and its features where the crate builds more than one board.
pub fn build_args(board: &Board) -> Vec<String> {
    let mut args = Vec::new();
    if board.status == BuildStatus::NeedsEspToolchain {
        args.push("+esp".to_string());
    }
    args.extend(["build", "--profile", board.profile].map(String::from));
    if let Some(target) = board.target {
        args.extend(["--target".to_string(), target.to_string()]);
    }
    if let Some(features) = board.features {
        args.extend(["--no-default-features", "--features", features].map(String::from));
    }
    args
}

/// Checks that the toolchain for the board is here, saying how to get it if not.
pub fn check_toolchain(board: &Board) -> Result<()> {
    let Some(target) = board.target else {
        bail!(
            "no Rust toolchain targets the {} any more: flash a given image with --image FILE",
            board.chip
        );
    };
    if board.status == BuildStatus::NeedsEspToolchain {
        let toolchains = output("rustup", &["toolchain", "list"])?;
        if !toolchains.lines().any(|l| l.starts_with("esp")) {
            bail!("{} needs the Espressif Xtensa toolchain: `cargo install espup && espup install`, then `. ~/export-esp.sh`", board.chip);
        }
        return Ok(());
    }
    let installed = output("rustup", &["target", "list", "--installed"])?;
    if !installed.lines().any(|l| l.trim() == target) {
        bail!("the Rust target {target} is not installed: `rustup target add {target}`");
    }
    Ok(())
}

fn output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo build` in the board's crate, with [`build_args`]; compiler output passes through; returns the ELF.
pub fn build(root: &Path, board: &Board) -> Result<PathBuf> {
    check_toolchain(board)?;
    let dir = board_dir(root, board);
    if !dir.join("Cargo.toml").is_file() {
        bail!(
            "the {} board crate ({}) is not there",
            board.name,
            dir.display()
        );
    }
    let mut child = Command::new("cargo")
        .args(build_args(board))
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo")?;
    let mut elf = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                eprintln!("{line}");
                continue;
            };
            match message["reason"].as_str() {
                Some("compiler-artifact") => {
                    if let Some(path) = message["executable"].as_str() {
                        elf = Some(PathBuf::from(path));
                    }
                }
                Some("compiler-message") => {
                    if let Some(rendered) = message["message"]["rendered"].as_str() {
                        eprint!("{rendered}");
                    }
                }
                _ => {}
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "building the {} firmware failed (cargo exited with {status})",
            board.name
        );
    }
    elf.with_context(|| format!("cargo built no executable for {}", board.name))
}
