#!/usr/bin/env bash
# The one test command: setup, fmt, clippy, test, nostd. Stops at the first failure.
# Usage: scripts/test.sh   (from anywhere; CI runs it through .ci/run)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -t 1 ]; then
    export CARGO_TERM_COLOR=never
fi

TOTAL_START=$SECONDS
# Board crates built here (firmware/boards/*, each with its own target; see mreq-flash --list-boards).
BOARDS="qemu stm32f407-w5500 rp2-pico-w esp32c3"
STAGE=""
STAGE_START=0

stage() {
    STAGE=$1
    STAGE_START=$SECONDS
    echo "== stage $STAGE: start"
}

stage_end() {
    echo "== stage $STAGE: $((SECONDS - STAGE_START))s"
}

on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "$STAGE" ]; then
        echo "== stage $STAGE: FAILED after $((SECONDS - STAGE_START))s (exit $rc)"
    fi
    echo "== total: $((SECONDS - TOTAL_START))s"
}
trap on_exit EXIT

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# --- setup ---------------------------------------------------------------------------------------
stage setup

# Debian's interpreter: `python3` on PATH may be another one (pyenv) that lacks Debian's packages.
# The integration tests use the same one (core/tests/support/mod.rs).
DEB_PYTHON=/usr/bin/python3
missing=()
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import httpbin' >/dev/null 2>&1; then
    missing+=(python3-httpbin)
fi
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import gunicorn' >/dev/null 2>&1; then
    missing+=(python3-gunicorn)
fi
# The QEMU smoke test makes its TLS test CA and certificates with it (scripts/qemu_tls.py).
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import cryptography' >/dev/null 2>&1; then
    missing+=(python3-cryptography)
fi
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
    missing+=(nginx)
fi
# The CLI tests compare mreq's TLS trust decisions with curl's (cli/tests/cli.rs).
if ! command -v curl >/dev/null 2>&1; then
    missing+=(curl)
fi
# The QEMU board's smoke test boots firmware in qemu-system-riscv32 (Debian: qemu-system-misc;
# installing it replaces the image's qemu-utils backport, which nothing here uses).
if ! command -v qemu-system-riscv32 >/dev/null 2>&1; then
    missing+=(qemu-system-misc)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "${missing[@]}" >/dev/null
fi

# The QEMU smoke test's DNS server listens on 127.0.0.1:53 (the firmware's resolver asks port 53).
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 53 ]; then
    as_root sysctl -q -w net.ipv4.ip_unprivileged_port_start=53
fi

installed_targets=$(rustup target list --installed)
for target in thumbv6m-none-eabi riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf thumbv7em-none-eabihf; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        rustup target add "$target"
    fi
done
installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        rustup component add "$component"
    fi
done
stage_end

# --- fmt -----------------------------------------------------------------------------------------
stage fmt
cargo fmt --all -- --check
stage_end

# The board crates are not workspace members (each builds for its own target).
for board in $BOARDS; do
    (cd "firmware/boards/$board" && cargo fmt -- --check)
done

# --- clippy --------------------------------------------------------------------------------------
stage clippy
cargo clippy --workspace --all-targets -- -D warnings
for board in $BOARDS; do
    (cd "firmware/boards/$board" && cargo clippy --release --quiet -- -D warnings)
done
stage_end

# --- firmware ------------------------------------------------------------------------------------
# Every board built here, in release, through the flasher (it reads the board table, builds with
# cargo and checks that the image stays below the configuration region); prints each image's size.
stage firmware
cargo build --quiet -p mreq-flash
for board in $BOARDS; do
    target/debug/mreq-flash --board "$board" --check-image
done
# ESP32-S3: the esp32c3 crate with its chip feature switched, on Espressif's Xtensa toolchain.
if rustup toolchain list | grep -q '^esp'; then
    (cd firmware/boards/esp32c3 && cargo +esp build --release --quiet --no-default-features \
        --features esp32s3 --target xtensa-esp32s3-none-elf)
else
    echo "esp32s3: not built: needs the Espressif Xtensa toolchain (cargo install espup && espup install)"
fi
stage_end

# --- test ----------------------------------------------------------------------------------------
stage test
cargo test --workspace
stage_end

# --- nostd ---------------------------------------------------------------------------------------
stage nostd
cargo build -p mreq-core --no-default-features --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --features redirects,url-credentials --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --target riscv32imc-unknown-none-elf
cargo build -p mreq-core --no-default-features --features alloc --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --features json --target thumbv6m-none-eabi
cargo build -p mreq-fwconfig --target thumbv6m-none-eabi
stage_end

# --- qemu ----------------------------------------------------------------------------------------
stage qemu
scripts/qemu-smoke.sh
stage_end

STAGE=""
echo "== all stages passed"
