#!/usr/bin/env bash
# mreq vs curl, side by side in one run, against nginx on 127.0.0.1 (started and stopped here):
#   - 200 sequential small GETs (wall time, process start included)
#   - a 1 GiB download to /dev/null, -o file, a pipe, > file and >> file (throughput; peak RSS
#     from /usr/bin/time); every one that keeps bytes is checked with SHA-256 against the source
#   - the same file over https (TLS 1.3, an ECDSA P-256 certificate) with -o file, checked too,
#     HTTPS_RUNS times each (default 9), alternating, medians compared
# Usage: scripts/bench-cli.sh [SIZE_MIB]   (default 1024). Figures go in README.md, never in tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MIB=${1:-1024}
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "needs nginx (apt-get install nginx)"; exit 2; }
command -v curl >/dev/null || { echo "needs curl (apt-get install curl)"; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)"; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build -q --release -p mreq
MREQ=$PWD/target/release/mreq

DIR=$(mktemp -d /tmp/mreq-bench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
TLS_PORT=$(free_port)
cleanup() {
    [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
    sleep 0.2
    rm -rf "$DIR"
}
trap cleanup EXIT

mkdir -p "$DIR/www" "$DIR/tmp"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$DIR/www/big.bin"
echo '{"hello": "world"}' > "$DIR/www/small.json"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
cat > "$DIR/nginx.conf" <<CONF
daemon on;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
user root;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp/body; proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fcgi; uwsgi_temp_path $DIR/tmp/uwsgi; scgi_temp_path $DIR/tmp/scgi;
  types { application/json json; application/octet-stream bin; }
  sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$PORT; root $DIR/www; }
  server { listen 127.0.0.1:$TLS_PORT ssl; server_name localhost; root $DIR/www;
           ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;
           ssl_protocols TLSv1.3; ssl_ecdh_curve prime256v1; }
}
CONF
"$NGINX" -e "$DIR/error.log" -p "$DIR" -c "$DIR/nginx.conf"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/small.json" && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT"
echo "machine: $(nproc) cores, $(uname -sr); curl $(curl --version | head -1 | cut -d' ' -f2); mreq $($MREQ --version | cut -d' ' -f2)"

small_gets() { # name command...
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    for _ in $(seq 200); do "$@" > /dev/null < /dev/null; done
    end=$(date +%s.%N)
    python3 -c "t=$end-$start; print(f'small GET x200  {\"$name\":5}  total {t:6.3f} s   per request {t/200*1000:6.2f} ms')"
}

download() { # name label command...   (the command's own exit status must be 0)
    local name=$1 label=$2; shift 2
    local out
    out=$( { /usr/bin/time -f "%e %M %x" "$@" > /dev/null; } 2>&1 | tail -1)
    python3 -c "e,m,x='$out'.split(); e=float(e); print(f'{\"$label\":24} {\"$name\":5}  {$SIZE_MIB/e:8.0f} MiB/s  ({e:5.2f} s)  peak RSS {int(m)/1024:6.1f} MiB' + ('' if x == '0' else f'  EXIT {x}'))"
}

# Every timed download that leaves bytes behind is checked against the source: a fast wrong
# answer is not a result. (/dev/null keeps nothing to check; its exit status is.)
SOURCE_SHA=$(sha256sum "$DIR/www/big.bin" | cut -d' ' -f1)
check() { # file label [bytes to skip]
    local got
    got=$(tail -c +"$((${3:-0} + 1))" "$1" | sha256sum | cut -d' ' -f1)
    if [ "$got" != "$SOURCE_SHA" ]; then
        echo "MISMATCH: $2 (sha256 $got, source $SOURCE_SHA)"
        exit 1
    fi
    rm -f "$1"
}

OUT=$DIR/out.bin
small_gets curl curl -s "$BASE/small.json"
small_gets mreq "$MREQ" "$BASE/small.json"
for tool in curl mreq; do
    if [ $tool = curl ]; then get="curl -s"; else get="'$MREQ'"; fi
    download $tool "download -> /dev/null" sh -c "$get -o /dev/null '$BASE/big.bin'"
    download $tool "download -> -o file" sh -c "$get -o '$OUT' '$BASE/big.bin'"
    check "$OUT" "$tool -o file"
    download $tool "download -> pipe" sh -c "$get '$BASE/big.bin' | cat > '$OUT'"
    check "$OUT" "$tool pipe"
    download $tool "download -> > file" sh -c "$get '$BASE/big.bin' > '$OUT'"
    check "$OUT" "$tool > file"
    echo prefix > "$OUT"
    download $tool "download -> >> file" sh -c "$get '$BASE/big.bin' >> '$OUT'"
    check "$OUT" "$tool >> file" 7
done
# https: both tools share the 2 cores with nginx's encryption, so single runs vary by tens of
# percent; they alternate HTTPS_RUNS times and the medians are compared.
TLS_BASE="https://localhost:$TLS_PORT"
HTTPS_RUNS=${HTTPS_RUNS:-9}
: > "$DIR/https.curl"; : > "$DIR/https.mreq"
for _ in $(seq "$HTTPS_RUNS"); do
    for tool in curl mreq; do
        if [ $tool = curl ]; then get="curl -s"; else get="'$MREQ'"; fi
        { /usr/bin/time -f "%e %M %x" sh -c "$get --cacert '$DIR/cert.pem' -o '$OUT' '$TLS_BASE/big.bin'" > /dev/null; } 2>&1 | tail -1 >> "$DIR/https.$tool"
        check "$OUT" "$tool https -o file"
    done
done
python3 - "$DIR" "$SIZE_MIB" <<'PY'
import statistics, sys
d, size = sys.argv[1], int(sys.argv[2])
med = {}
for tool in ("curl", "mreq"):
    rows = [line.split() for line in open(f"{d}/https.{tool}")]
    if any(r[2] != "0" for r in rows):
        sys.exit(f"{tool} https: a run failed (exit status {[r[2] for r in rows]})")
    wall = [float(r[0]) for r in rows]
    med[tool] = statistics.median(wall)
    rss = max(int(r[1]) for r in rows) / 1024
    print(f"{'https -> -o file':24} {tool:5}  {size / med[tool]:8.0f} MiB/s  (median {med[tool]:5.2f} s, "
          f"min {min(wall):5.2f} s of {len(wall)})  peak RSS {rss:6.1f} MiB")
print(f"https -o file: mreq takes {med['mreq'] / med['curl']:.2f}x curl's median time")
PY
echo "every download above matches the source (sha256 $SOURCE_SHA)"
