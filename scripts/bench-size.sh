#!/usr/bin/env bash
# Flash cost of a minimal async GET: mreq-core against reqwless 0.14 (without TLS), net of an empty
# baseline, for thumbv6m-none-eabi (RP2040) and riscv32imc-unknown-none-elf (ESP32-C3), at
# opt-level "s" with fat LTO. Each is the same program: one header, the status, the body streamed
# into 512 bytes, a 4 KiB buffer, over a transport the optimiser cannot see through. Also prints
# the size of each GET's future (measured on this host: 64-bit pointers, so a 32-bit board's is
# smaller for both).
#
# The programs live in their own workspace, made here in a temporary directory, so reqwless never
# enters the project's dependency graph.
# Usage: scripts/bench-size.sh   (needs the two rustup targets; figures go in README.md)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CORE=$PWD/core
WORK=$(mktemp -d /tmp/mreq-size.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src/bin"

cat > "$WORK/Cargo.toml" <<EOF
[package]
name = "size-bench"
version = "0.0.0"
edition = "2021"
publish = false

[features]
mreq-redirects = ["mreq-core/redirects"]

[dependencies]
mreq-core = { path = "$CORE", default-features = false }
reqwless = { version = "=0.14.0", default-features = false }
embedded-io-async = "0.7"
embedded-io = "0.7"
embedded-nal-async = "0.9"

[profile.release]
opt-level = "s"
lto = "fat"
codegen-units = 1
panic = "abort"
debug = false
EOF

# The transport: bytes come from and go to volatile memory, so nothing can be folded away.
cat > "$WORK/src/wire.rs" <<'EOF'
use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

static mut INBOX: [u8; 64] = [0; 64];
static mut OUTBOX: u8 = 0;
static mut SEEN: usize = 0;

/// Fills `buf` from memory the optimiser knows nothing about; its first byte decides the length.
#[inline(never)]
pub fn recv(buf: &mut [u8]) -> usize {
    let n = unsafe { read_volatile(addr_of!(INBOX) as *const u8) } as usize % (buf.len() + 1);
    for (i, b) in buf[..n].iter_mut().enumerate() {
        *b = unsafe { read_volatile((addr_of!(INBOX) as *const u8).add(i % 64)) };
    }
    n
}

#[inline(never)]
pub fn send(buf: &[u8]) -> usize {
    for b in buf {
        unsafe { write_volatile(addr_of_mut!(OUTBOX), *b) };
    }
    buf.len()
}

/// Keeps a value alive.
#[inline(never)]
pub fn seen(n: usize) {
    unsafe { write_volatile(addr_of_mut!(SEEN), n) };
}

#[allow(dead_code)]
/// Polls a future to its end with a no-op waker (the transport never pends).
pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
    let mut future = core::pin::pin!(future);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
EOF

cat > "$WORK/src/rt.rs" <<'EOF'
#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
EOF

cat > "$WORK/src/bin/baseline.rs" <<'EOF'
#![no_std]
#![no_main]
#[path = "../rt.rs"]
mod rt;
#[path = "../wire.rs"]
mod wire;

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut buf = [0u8; 512];
    let n = wire::recv(&mut buf);
    wire::seen(wire::send(&buf[..n]));
    loop {}
}
EOF

cat > "$WORK/src/mreq_get.rs" <<'EOF'
use mreq_core::client::asynch::{Client, Connect};
use mreq_core::client::Request;
use mreq_core::request::Header;
use mreq_core::url::Scheme;

pub struct Wire;

impl embedded_io::ErrorType for Wire {
    type Error = mreq_core::Error;
}

impl embedded_io_async::Read for Wire {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(crate::wire::recv(buf))
    }
}

impl embedded_io_async::Write for Wire {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(crate::wire::send(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

pub struct Net;

impl Connect for Net {
    type Conn = Wire;
    async fn connect(&mut self, _: Scheme, host: &str, port: u16) -> mreq_core::Result<Wire> {
        crate::wire::seen(host.len() + port as usize);
        Ok(Wire)
    }
}

pub async fn get(client: &mut Client<Net>) -> usize {
    let mut buf = [0u8; 4096];
    let headers = [Header::new("Accept", b"text/plain")];
    let request = Request::get("http://192.168.1.2:8000/data").headers(&headers);
    let Ok(mut response) = client.send(&request, &mut buf).await else {
        return 0;
    };
    let mut total = response.status() as usize;
    let mut chunk = [0u8; 512];
    while let Ok(n @ 1..) = response.read(&mut chunk).await {
        total += n;
    }
    total
}
EOF

cat > "$WORK/src/reqwless_get.rs" <<'EOF'
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use reqwless::client::HttpClient;
use reqwless::request::{Method, RequestBuilder};

pub struct Wire;

impl embedded_io_async::ErrorType for Wire {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for Wire {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(crate::wire::recv(buf))
    }
}

impl embedded_io_async::Write for Wire {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(crate::wire::send(buf))
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

pub struct Net;

impl TcpConnect for Net {
    type Error = embedded_io_async::ErrorKind;
    type Connection<'a> = Wire;
    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Wire, Self::Error> {
        crate::wire::seen(remote.port() as usize);
        Ok(Wire)
    }
}

impl Dns for Net {
    type Error = embedded_io_async::ErrorKind;
    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, Self::Error> {
        crate::wire::seen(host.len());
        Ok(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)))
    }
    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, Self::Error> {
        Err(embedded_io_async::ErrorKind::Unsupported)
    }
}

pub async fn get(client: &mut HttpClient<'_, Net, Net>) -> usize {
    let mut buf = [0u8; 4096];
    let Ok(request) = client.request(Method::GET, "http://192.168.1.2:8000/data").await else {
        return 0;
    };
    let mut request = request.headers(&[("Accept", "text/plain")]);
    let Ok(response) = request.send(&mut buf).await else {
        return 0;
    };
    let mut total = response.status.0 as usize;
    let mut reader = response.body().reader();
    let mut chunk = [0u8; 512];
    while let Ok(n @ 1..) = embedded_io_async::Read::read(&mut reader, &mut chunk).await {
        total += n;
    }
    total
}
EOF

cat > "$WORK/src/bin/mreq.rs" <<'EOF'
#![no_std]
#![no_main]
#[path = "../mreq_get.rs"]
mod get;
#[path = "../rt.rs"]
mod rt;
#[path = "../wire.rs"]
mod wire;

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut client = mreq_core::client::asynch::Client::new(get::Net);
    wire::seen(wire::block_on(get::get(&mut client)));
    loop {}
}
EOF

cat > "$WORK/src/bin/reqwless.rs" <<'EOF'
#![no_std]
#![no_main]
#[path = "../reqwless_get.rs"]
mod get;
#[path = "../rt.rs"]
mod rt;
#[path = "../wire.rs"]
mod wire;

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let net = get::Net;
    let mut client = reqwless::client::HttpClient::new(&net, &net);
    wire::seen(wire::block_on(get::get(&mut client)));
    loop {}
}
EOF

# The future sizes, on the host.
mkdir -p "$WORK/examples"
cat > "$WORK/examples/futures.rs" <<'EOF'
#[path = "../src/mreq_get.rs"]
mod mreq_get;
#[path = "../src/reqwless_get.rs"]
mod reqwless_get;
#[path = "../src/wire.rs"]
#[allow(dead_code)]
mod wire;

fn main() {
    let mut mreq = mreq_core::client::asynch::Client::new(mreq_get::Net);
    let net = reqwless_get::Net;
    let mut reqwless = reqwless::client::HttpClient::new(&net, &net);
    let mreq_future = core::mem::size_of_val(&mreq_get::get(&mut mreq));
    let reqwless_future = core::mem::size_of_val(&reqwless_get::get(&mut reqwless));
    println!(
        "future of the GET on this host: mreq-core {mreq_future} B, reqwless {reqwless_future} B ({:.2}x)",
        mreq_future as f64 / reqwless_future as f64
    );
}
EOF

sizes() { # target bin -> "text rodata data"
    local elf=$WORK/target/$1/release/$2
    python3 - "$elf" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
# ELF32 little-endian: section headers, names, sizes.
shoff, = struct.unpack_from("<I", data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
def sh(i):
    return struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
names = sh(shstrndx)
def name(off):
    start = names[4] + off
    return data[start:data.index(b"\0", start)].decode()
totals = {"text": 0, "rodata": 0, "data": 0}
for i in range(shnum):
    n, typ, flags, addr, off, size = sh(i)[:6]
    nm = name(n)
    if nm.startswith(".text"):
        totals["text"] += size
    elif nm.startswith(".rodata") or nm.startswith(".srodata"):
        totals["rodata"] += size
    elif nm.startswith(".data") or nm.startswith(".sdata"):
        totals["data"] += size
print(totals["text"], totals["rodata"], totals["data"])
PY
}

echo "minimal async GET, opt-level s, fat LTO; bytes net of an empty baseline"
for target in thumbv6m-none-eabi riscv32imc-unknown-none-elf; do
    (cd "$WORK" && cargo build -q --release --target "$target" --bins)
    read -r bt br bd <<<"$(sizes "$target" baseline)"
    read -r rt rr rd <<<"$(sizes "$target" reqwless)"
    read -r mt mr md <<<"$(sizes "$target" mreq)"
    (cd "$WORK" && cargo build -q --release --target "$target" --bin mreq --features mreq-redirects)
    read -r ft fr fd <<<"$(sizes "$target" mreq)"
    python3 - "$target" "$bt $br $bd" "$rt $rr $rd" "$mt $mr $md" "$ft $fr $fd" <<'PY'
import sys
target = sys.argv[1]
base, rq, mq, mf = ([int(x) for x in a.split()] for a in sys.argv[2:])
def net(x):
    return [a - b for a, b in zip(x, base)]
for label, sizes in (("reqwless 0.14", net(rq)), ("mreq-core, redirects off", net(mq)), ("mreq-core, redirects on", net(mf))):
    total = sum(sizes)
    ratio = total / sum(net(rq))
    print(f"{target:28} {label:26} .text {sizes[0]:6}  .rodata {sizes[1]:5}  .data {sizes[2]:4}  total {total:6} B  ({ratio:.3f}x reqwless)")
PY
done

(cd "$WORK" && cargo run -q --release --example futures)
(cd "$WORK" && cargo run -q --release --example futures --features mreq-redirects | sed 's/mreq-core/mreq-core (redirects on)/')
