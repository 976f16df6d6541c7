#!/usr/bin/env bash
# Builds the QEMU firmware and the mreq CLI, then boots the firmware against real servers on
# 127.0.0.1 (see scripts/qemu_smoke.py). Needs qemu-system-riscv32 (Debian: qemu-system-misc),
# python3-httpbin, python3-gunicorn, and the riscv32imac-unknown-none-elf target: scripts/test.sh
# installs them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# `--mbedtls`: the firmware with mreq-fw's Mbed TLS backend instead of rustls (the backend of
# the boards without compare-and-swap), built apart in target/mbedtls; the same checks.
BUILD=(--release --quiet --bins --examples)
OUT=firmware/boards/qemu/target
if [ "${1:-}" = --mbedtls ]; then
    shift
    BUILD+=(--no-default-features --features mbedtls)
    export CARGO_TARGET_DIR=target/mbedtls
    OUT=firmware/boards/qemu/target/mbedtls
fi
(cd firmware/boards/qemu && cargo build "${BUILD[@]}")
unset CARGO_TARGET_DIR
ELF=$OUT/riscv32imac-unknown-none-elf/release/mreq-board-qemu
TELEMETRY=$OUT/riscv32imac-unknown-none-elf/release/examples/telemetry
cargo build --quiet -p mreq -p mreq-flash
echo "firmware image: $(size -A "$ELF" 2>/dev/null | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "%s %d  ", $1, $2}')"
exec timeout 900 /usr/bin/python3 scripts/qemu_smoke.py --elf "$ELF" --mreq target/debug/mreq \
    --flasher target/debug/mreq-flash --telemetry-elf "$TELEMETRY" "$@"
