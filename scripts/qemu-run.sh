#!/usr/bin/env bash
# Builds the QEMU board firmware and boots it on qemu-system-riscv32 -machine virt, with a
# virtio-net NIC on QEMU's user-mode network (DHCP gives 10.0.2.15; the host is 10.0.2.2) and the
# console on this terminal (Ctrl-A X quits).
#
# Usage: scripts/qemu-run.sh [--timeout SECONDS] [--elf PATH] [CONFIG_BLOCK]
#   CONFIG_BLOCK  a configuration block file (at most 4096 bytes, from mreq-fwconfig) placed at the
#                 start of the second pflash bank; without it the bank is erased (all 0xFF).
#   --timeout S   stop QEMU after S seconds (for scripts and CI); the exit status is then 124.
#   --elf PATH    boot this ELF instead of building (cargo's runner passes it this way).
# Exit status: QEMU's, i.e. the code the firmware gave the SiFive test device (0 = pass).
# Needs: qemu-system-riscv32 (Debian: qemu-system-misc), rustup target riscv32imac-unknown-none-elf.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BOARD="$ROOT/firmware/boards/qemu"
TARGET_DIR="$BOARD/target/riscv32imac-unknown-none-elf/release"

timeout_s=""
elf=""
block=""
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout_s="${2:?--timeout needs seconds}"; shift 2 ;;
        --elf) elf="${2:?--elf needs a path}"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "qemu-run: unknown option $1" >&2; exit 2 ;;
        *) block="$1"; shift ;;
    esac
done

if [ -z "$elf" ]; then
    (cd "$BOARD" && cargo build --release)
    elf="$TARGET_DIR/mreq-board-qemu"
fi

# QEMU wants the pflash image to be exactly the bank size (32 MiB); erased flash reads 0xFF.
# One image per run, so that runs side by side do not share (or lock) it.
mkdir -p "$BOARD/target"
img="$(mktemp "$BOARD/target/qemu-config.XXXXXX.img")"
trap 'rm -f "$img"' EXIT
head -c 32M /dev/zero | tr '\0' '\377' > "$img"
if [ -n "$block" ]; then
    size=$(stat -c %s "$block")
    if [ "$size" -gt 4096 ]; then
        echo "qemu-run: $block is $size bytes; a configuration block is at most 4096" >&2
        exit 2
    fi
    dd if="$block" of="$img" conv=notrunc status=none
fi

# The ELF goes in through the generic loader, not -kernel: when pflash unit 1 is attached, QEMU's
# virt machine assumes it holds S-mode firmware and ignores -kernel. -bios none still starts the
# hart at the bottom of RAM, where the ELF is linked. force-legacy=false selects virtio-mmio
# version 2 (QEMU 7.2 defaults to legacy version 1; virtio-drivers handles both).
qemu=(qemu-system-riscv32 -machine virt -m 128M -nographic -bios none
    -device "loader,file=$elf"
    -serial mon:stdio
    -global virtio-mmio.force-legacy=false
    -netdev user,id=n0 -device virtio-net-device,netdev=n0
    -device virtio-rng-device
    -drive "if=pflash,unit=1,format=raw,file=$img")

if [ -n "$timeout_s" ]; then
    # --foreground: QEMU must stay in the terminal's process group to read from it.
    timeout --foreground "$timeout_s" "${qemu[@]}"
else
    "${qemu[@]}"
fi
