#!/usr/bin/env bash
# The first command for a newcomer, without hardware or internet: installs what it needs (as
# scripts/test.sh does), starts httpbin on 127.0.0.1, boots the QEMU board through mreq-flash,
# and makes the same request locally and through the board (`mreq --device`), printing both.
# Usage: scripts/demo.sh   (from anywhere; Ctrl-C stops it; everything it started goes with it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/setup.sh
echo "== building mreq, mreq-flash (the flasher builds the firmware)"
cargo build --quiet -p mreq -p mreq-flash

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 1 600); do
        if /usr/bin/python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

hb=$(free_port)
setsid /usr/bin/python3 -m gunicorn -b "127.0.0.1:$hb" --log-level warning httpbin:app \
    >"$work/httpbin.log" 2>&1 &
pids+=($!)
wait_port "$hb"

console=$(free_port)
echo "== booting the QEMU board: mreq-flash --board qemu --qemu-console tcp:$console"
setsid target/debug/mreq-flash --board qemu --qemu-console "tcp:$console" --timeout 600 \
    >"$work/flash.log" 2>&1 &
pids+=($!)
if ! wait_port "$console"; then
    cat "$work/flash.log" >&2
    exit 1
fi

echo
echo "== here:            mreq get http://127.0.0.1:$hb/get"
target/debug/mreq get "http://127.0.0.1:$hb/get"
echo
echo "== on the board:    mreq --device tcp:127.0.0.1:$console get http://10.0.2.2:$hb/get"
echo "   (QEMU's network reaches this machine as 10.0.2.2; -v shows the board and its agent)"
target/debug/mreq -v --device "tcp:127.0.0.1:$console" get "http://10.0.2.2:$hb/get"
