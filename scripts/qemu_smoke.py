#!/usr/bin/env python3
"""Boots the QEMU firmware and checks that it makes real requests to servers on this machine.

Called by scripts/qemu-smoke.sh with the firmware ELF and the mreq binary. Starts httpbin
(gunicorn), a static file server, nginx with a test CA's certificates in front of httpbin, and an
SNTP server on 127.0.0.1, builds a pflash image whose start-up request points at httpbin, boots
QEMU with its console on a TCP socket, asserts on what the firmware prints, then drives the
firmware's request shell with `mreq --device` and compares with local requests. More boots check
https without a clock, with verification off, and with bad configuration blocks. Every step is
bounded in time; QEMU and the servers are always stopped.
"""
import argparse, hashlib, http.server, json, os, signal, re, shutil, socket, ssl, subprocess, sys, tempfile, threading, time, zlib

import qemu_dns, qemu_hostile, qemu_tls

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def connect(port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            time.sleep(0.1)
    return None


def read_until(sock, marker, timeout):
    data = b""
    deadline = time.time() + timeout
    while marker not in data:
        remaining = deadline - time.time()
        if remaining <= 0:
            raise TimeoutError(f"no {marker!r} after {timeout} s; got: {data[-2000:]!r}")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"console closed; got: {data[-2000:]!r}")
        data += chunk
    return data


def mreq(binary, *args, timeout=120):
    # stdin is not inherited: mreq reads a piped stdin as the request body (as HTTPie does).
    return subprocess.run([binary, *args], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def qemu_command(elf, image, *serial, rng=True):
    """The QEMU virt machine of the firmware, with the pflash image and the given console."""
    return ["qemu-system-riscv32", "-machine", "virt", "-m", "128M", "-nographic", "-bios", "none",
            # Not -kernel: with pflash unit 1 attached, virt would take it for firmware.
            "-device", f"loader,file={elf}", "-global", "virtio-mmio.force-legacy=false",
            "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
            *(["-device", "virtio-rng-device"] if rng else []),
            "-drive", f"if=pflash,unit=1,format=raw,file={image}", *serial, "-monitor", "none"]


def flash_image(args, path, *options):
    """A pflash image with a configuration block written by mreq-flash from `options`."""
    subprocess.run([args.flasher, "--board", "qemu", "--no-build", "--elf", args.elf, *options,
                    "--pflash-out", path], check=True, timeout=30)
    return path


def qemu_pty(args, tls, host_hb, local_hb, procs, work, file_port):
    """A second boot with the console on a pseudo-terminal: `mreq --device /dev/pts/N`. Its
    configuration turns TLS verification off (and trusts no CA): https to a server no CA vouches
    for works, and the device warns about it at every request."""
    log = os.path.join(work, "qemu-pty.out")
    image = flash_image(args, os.path.join(work, "cfg-pty.img"), "--insecure", "--ntp", tls["ntp"])
    qemu = qemu_command(args.elf, image, "-serial", "pty")
    procs.append(subprocess.Popen(qemu, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True))
    pty = None
    deadline = time.time() + 20
    while pty is None and time.time() < deadline:
        found = re.search(r"redirected to (/dev/pts/\d+)", open(log, errors="replace").read())
        pty = found.group(1) if found else None
        time.sleep(0.1)
    check("QEMU console on a pty", pty is not None, open(log, errors="replace").read())
    if pty is None:
        return
    remote = mreq(args.mreq, "--device", pty, "--timeout", "60", "get", host_hb + "/json")
    local = mreq(args.mreq, "get", local_hb + "/json")
    check("--device on a serial device (pty), at once after boot: the local body",
          remote.returncode == 0 and remote.stdout == local.stdout, remote.stderr.decode(errors="replace"))
    # The clock is not set yet (no start-up request on this boot): an http URL that redirects to
    # https must still get the time before the handshake.
    hop = mreq(args.mreq, "--device", pty, "--timeout", "60", "-L", "--print=hb", "get",
               f"{host_hb}/redirect-to?url={tls['untrusted']}/get")
    check("http -> https redirect on a fresh clock: followed, the time asked first",
          hop.returncode == 0 and hop.stdout.startswith(b"HTTP/1.1 200 OK") and b'"url"' in hop.stdout,
          f"exit {hop.returncode}: {hop.stderr.decode(errors='replace')}")
    for attempt in range(2):
        insecure = mreq(args.mreq, "--device", pty, "--timeout", "60", "get", tls["untrusted"] + "/get")
        warned = b"warning from the device: TLS certificate verification is OFF" in insecure.stderr
        check(f"TLS_INSECURE: untrusted certificate accepted, with a warning (request {attempt + 1})",
              insecure.returncode == 0 and warned and b'"url"' in insecure.stdout,
              f"exit {insecure.returncode}: {insecure.stderr.decode(errors='replace')}")
    # The board goes away mid-body (QEMU killed): exit 56, the partial file kept for --continue.
    part = os.path.join(work, "lost.bin")
    lost = subprocess.Popen([args.mreq, "--device", pty, "-o", part, "get", f"http://10.0.2.2:{file_port}/big.bin"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.exists(part + ".mreq-part") and os.path.getsize(part + ".mreq-part") > 0):
        time.sleep(0.05)
    qemu_proc = procs[-1]
    os.killpg(qemu_proc.pid, signal.SIGKILL)
    killed_at = time.time()
    _, err = lost.communicate(timeout=60)
    took = time.time() - killed_at
    check("the board lost mid-body: exit 56 within the link timeout, the partial file kept",
          lost.returncode == 56 and took < 10 and os.path.getsize(part + ".mreq-part") > 0 and not os.path.exists(part),
          f"exit {lost.returncode} after {took:.1f} s: {err.decode(errors='replace')}")


def console_boot(args, image, procs, rng=True):
    """Boots `image` with the console on a TCP socket; returns the connected socket or None."""
    port = free_port()
    qemu = qemu_command(args.elf, image, "-chardev", f"socket,id=con,host=127.0.0.1,port={port},server=on,wait=on",
                        "-serial", "chardev:con", rng=rng)
    procs.append(subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    return connect(port, 20)


def ask(con, line, timeout=120):
    """Types a line at the console; returns what came back up to the next prompt."""
    con.sendall(line.encode() + b"\r")
    try:
        return read_until(con, b"mreq> ", timeout).decode("utf-8", "replace")
    except (TimeoutError, ConnectionError) as err:
        return repr(err)


def console_session(args, image, procs, what, lines, rng=True):
    """Boots `image`, waits for the prompt and types `lines`. Returns the boot text and the answer
    to each line (a failure's text in their place), or None after a failed check when QEMU
    offered no console."""
    con = console_boot(args, image, procs, rng=rng)
    if con is None:
        check(f"{what}: QEMU console", False)
        return None
    try:
        boot = read_until(con, b"mreq> ", 60).decode("utf-8", "replace")
        return boot, [ask(con, line) for line in lines]
    except (TimeoutError, ConnectionError) as err:
        return repr(err), [repr(err)] * len(lines)
    finally:
        con.close()


def qemu_no_clock(args, tls, work, procs):
    """A boot whose SNTP server never answers: https must fail with the reason, not skip dates."""
    image = flash_image(args, os.path.join(work, "cfg-noclock.img"), "--cacert", tls["ca"],
                        "--ntp", f"10.0.2.2:{qemu_tls.closed_udp_port()}")
    session = console_session(args, image, procs, "no-clock boot", [f"get {tls['good']}/get"])
    if session is None:
        return
    _, [out] = session
    check("no SNTP answer: https refused with a clear reason",
          "time: unknown" in out and "TLS error: no time" in out and "HTTP/1.1" not in out, out[-600:])


def qemu_no_rng(args, tls, work, procs):
    """A boot without the virtio-rng device: the firmware says so, and https fails for want of
    random bytes instead of running on a made-up seed; plain http still works."""
    image = flash_image(args, os.path.join(work, "cfg-norng.img"), "--cacert", tls["ca"], "--ntp", tls["ntp"])
    session = console_session(args, image, procs, "no-RNG boot",
                              [f"get {tls['good']}/get", f"get {tls['http']}/get"], rng=False)
    if session is None:
        return
    boot, [out, plain] = session
    check("no RNG device: reported at boot, https refused for want of random bytes, http works",
          "no virtio-rng-device" in boot and "TLS error: failed to get random bytes" in out
          and "HTTP/1.1" not in out and "HTTP/1.1 200 OK" in plain, boot[-300:] + out[-300:] + plain[-200:])


def qemu_dns_boot(args, tls, work, procs):
    """A boot with a static address whose DNS server is a test server on the host: names resolve
    on the device (the SNTP server's too), https to a name sends SNI and checks the certificate's
    DNS name, and an unknown name is a clear error."""
    try:
        dns = qemu_dns.DnsServer([qemu_tls.NAMED_HOST, "hb.mreq.test", "ntp.mreq.test"])
    except OSError as err:
        check("DNS server on 127.0.0.1:53 (needs root, as scripts/test.sh runs)", False, repr(err))
        return
    try:
        image = flash_image(args, os.path.join(work, "cfg-dns.img"), "--ip", "10.0.2.15/24", "--gateway", "10.0.2.2",
                            "--dns", "10.0.2.2", "--cacert", tls["ca"], "--ntp", "ntp.mreq.test:" + tls["ntp"].split(":")[1])
        session = console_session(args, image, procs, "DNS boot", [
            f"get https://{qemu_tls.NAMED_HOST}:{tls['named'].rsplit(':', 1)[1]}/get",
            f"get http://hb.mreq.test:{tls['http'].rsplit(':', 1)[1]}/get",
            "get http://nowhere.mreq.test/"])
        if session is None:
            return
        boot, [named, plain, unknown] = session
        check("static address from the configuration block", "config: ok (static address)" in boot
              and re.search(r"net: up 10\.0\.2\.15/24", boot) is not None, boot[-400:])
        check("https to a DNS name: resolved, SNI, name checked, clock from an SNTP server by name",
              "HTTP/1.1 200 OK" in named and "tls: handshake" in named and "(SNTP ntp.mreq.test:" in boot + named
              and qemu_tls.NAMED_HOST in dns.answered and "ntp.mreq.test" in dns.answered, (boot + named)[-900:])
        check("http to a DNS name", "HTTP/1.1 200 OK" in plain and '"url"' in plain, plain[-400:])
        check("an unknown name is a clear error", "-- error: could not resolve host name" in unknown, unknown[-300:])
    finally:
        dns.close()


def qemu_bad_config(args, image, work, procs, tls):
    """Boots with a corrupt and with an erased configuration block: the firmware must say so and
    fall back to defaults (DHCP, no start-up request), with its shell still there. https there
    trusts nothing, so it fails with a certificate error."""
    with open(image, "rb") as f:
        good = f.read()
    corrupt = bytearray(good)
    corrupt[12] ^= 0x01  # inside the entries: the CRC no longer matches
    erased = b"\xff" * len(good)
    for name, content, expected in [("corrupt", bytes(corrupt), "CRC mismatch"), ("erased", erased, "erased flash")]:
        path = os.path.join(work, f"cfg-{name}.img")
        with open(path, "wb") as f:
            f.write(content)
        # On the erased block, https trusts nothing.
        lines = [f"get {tls['good']}/get"] if name == "erased" else []
        session = console_session(args, path, procs, f"{name} configuration", lines)
        if session is None:
            continue
        text, answers = session
        check(f"{name} configuration block: reported, defaults used, shell up",
              expected in text and "using defaults" in text and "startup:" not in text and "mreq>" in text, text[-600:])
        if name == "erased":
            check("no CA configured: https fails with a certificate error",
                  "TLS certificate error: no trusted CA certificates" in answers[0], answers[0][-600:])


def device_checks(args, device, host_hb, local_hb, hostile, work, big, file_port):
    """`mreq --device` as a user meets it: broken servers answered as locally, credentials kept
    from other origins, files saved, bodies uploaded whole, requests never mixed up, Ctrl-C."""
    host_h = f"http://10.0.2.2:{hostile.port}"
    local_h = f"http://127.0.0.1:{hostile.port}"
    # The board's engine against each hostile route: the exit code a local request gives.
    for route, extra in [("/truncated", []), ("/bad-chunk", []), ("/overflow-chunk", []), ("/lying-length", []),
                         ("/no-crlf", []), ("/stall", ["--timeout", "3"]), ("/loop", ["-L", "--max-redirects", "5"])]:
        local = mreq(args.mreq, *extra, "get", local_h + route)
        remote = mreq(args.mreq, "--device", device, *extra, "get", host_h + route)
        same = remote.returncode == local.returncode and (local.returncode != 0) == (route != "/no-crlf")
        if local.returncode == 0:
            same = same and remote.stdout == local.stdout
        check(f"hostile {route} through the board: exit {remote.returncode}, locally {local.returncode}", same,
              f"device: {remote.stderr.decode(errors='replace')} local: {local.stderr.decode(errors='replace')}")
    # Credentials go to the origin they were given for, not to the one a redirect names.
    direct = mreq(args.mreq, "--device", device, "-u", "joe:pw", "get", host_h + "/headers")
    moved = mreq(args.mreq, "--device", device, "-L", "-u", "joe:pw", "get",
                 f"{host_hb}/redirect-to?url={host_h}/headers")
    check("-u through the board: sent to its origin, dropped on a redirect to another",
          b"Authorization: Basic am9lOnB3" in direct.stdout and moved.returncode == 0
          and b"GET /headers" in moved.stdout and b"Authorization" not in moved.stdout,
          (direct.stdout + moved.stdout + moved.stderr).decode(errors="replace")[:600])
    # -o through the board: the file is the source, byte for byte.
    saved = os.path.join(work, "via-board.bin")
    got = mreq(args.mreq, "--device", device, "-o", saved, "get", f"http://10.0.2.2:{file_port}/big.bin", timeout=300)
    check("-o FILE through the board saves the 1 MiB body (sha256)",
          got.returncode == 0 and os.path.exists(saved)
          and hashlib.sha256(open(saved, "rb").read()).digest() == hashlib.sha256(big).digest(),
          got.stderr.decode(errors="replace"))
    # Uploads: a 200 KiB file (declared length) and the same from a pipe (chunked).
    upload = os.urandom(200 * 1024)
    up_file = os.path.join(work, "upload.bin")
    with open(up_file, "wb") as f:
        f.write(upload)
    want = hashlib.sha256(upload).hexdigest().encode() + b" %d" % len(upload)
    sent = mreq(args.mreq, "--device", device, "--data-binary", "@" + up_file, "post", host_h + "/sha256", timeout=300)
    piped = subprocess.run([args.mreq, "--device", device, "post", host_h + "/sha256"], input=upload,
                           capture_output=True, timeout=300)
    check("200 KiB upload through the board: file and pipe arrive whole (sha256)",
          sent.stdout == want and piped.stdout == want,
          f"{sent.stdout[:100]} / {piped.stdout[:100]} / {sent.stderr.decode(errors='replace')} {piped.stderr.decode(errors='replace')}")
    # Requests are never mixed up: a timed-out request, then at once another.
    slow = mreq(args.mreq, "--device", device, "--timeout", "2", "get", host_hb + "/delay/8")
    after = mreq(args.mreq, "--device", device, "get", host_hb + "/get?after=timeout")
    check("--timeout 2 on /delay/8 through the board: exit 28; the next request gets its own answer",
          slow.returncode == 28 and after.returncode == 0 and b"after=timeout" in after.stdout,
          f"{slow.returncode} {slow.stderr.decode(errors='replace')} / {after.stdout[:300]} {after.stderr.decode(errors='replace')}")
    # A host killed mid-request (no cancel sent): the next host's request still gets its answer.
    killed = subprocess.Popen([args.mreq, "--device", device, "get", host_hb + "/delay/5"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(1)
    killed.kill()
    killed.wait()
    second = mreq(args.mreq, "--device", device, "get", host_hb + "/get?second=1")
    check("a killed host's request does not answer the next one",
          second.returncode == 0 and b"second=1" in second.stdout,
          f"{second.stdout[:300]} {second.stderr.decode(errors='replace')}")
    # Ctrl-C: exit 130, the board cancels, the partial file is kept, the next request works.
    part = os.path.join(work, "interrupted.bin")
    interrupted = subprocess.Popen([args.mreq, "--device", device, "-o", part, "get", host_h + "/slow-body"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    time.sleep(1.5)
    interrupted.send_signal(signal.SIGINT)
    _, err = interrupted.communicate(timeout=30)
    third = mreq(args.mreq, "--device", device, "get", host_hb + "/get?third=1")
    check("Ctrl-C through the board: exit 130, partial file kept, the next request gets its answer",
          interrupted.returncode == 130 and os.path.exists(part + ".mreq-part") and not os.path.exists(part)
          and third.returncode == 0 and b"third=1" in third.stdout,
          f"exit {interrupted.returncode} {err.decode(errors='replace')} / {third.stderr.decode(errors='replace')}")
    # Several URLs through the board, in order, on one line.
    both = mreq(args.mreq, "--device", device, "get", host_hb + "/get?n=1", "get", host_hb + "/get?n=2")
    text = both.stdout.decode(errors="replace")
    check("two URLs through the board: both answered, in order",
          both.returncode == 0 and 0 <= text.find("n=1") < text.find("n=2"), text[:400] + both.stderr.decode(errors="replace"))


def tls_checks(args, device, tls, local_hb):
    """https from the device against nginx: the good server works (GET, POST, a 100 KiB body over
    several records); every bad certificate is refused with exit 60 and its reason."""
    got = mreq(args.mreq, "--device", device, "get", tls["good"] + "/get")
    try:
        url = json.loads(got.stdout)["url"]
    except (ValueError, KeyError, TypeError):
        url = None
    # httpbin behind nginx sees plain http, so its "url" says http://.
    check("https GET through --device with the configured CA",
          got.returncode == 0 and url is not None and url.split("//")[-1] == tls["good"].split("//")[1] + "/get",
          f"{url} {got.stderr.decode(errors='replace')}")
    posted = mreq(args.mreq, "--device", device, "post", tls["good"] + "/post", "over=tls", "n:=42")
    try:
        echoed = json.loads(posted.stdout)["json"]
    except (ValueError, KeyError, TypeError):
        echoed = None
    check("https POST with a JSON body through --device", echoed == {"over": "tls", "n": 42},
          posted.stderr.decode(errors="replace"))
    for kind, what in [("tls12", "a TLS 1.2-only server"), ("rsa", "a server with an RSA-2048 key")]:
        got = mreq(args.mreq, "--device", device, "get", tls[kind] + "/get")
        check(f"https GET to {what}", got.returncode == 0 and b'"url"' in got.stdout, got.stderr.decode(errors="replace"))
    body = os.path.join(os.path.dirname(tls["ca"]), "body.txt")
    with open(body, "w") as f:
        f.write("".join(chr(ord("a") + i % 26) for i in range(4096)))
    big_post = mreq(args.mreq, "--device", device, "--data-binary", "@" + body, "post", tls["good"] + "/post", "Content-Type:text/plain")
    try:
        data = json.loads(big_post.stdout)["data"]
    except (ValueError, KeyError, TypeError):
        data = None
    check("https POST of a 4 KiB body (two TLS records) through --device", data == open(body).read(),
          big_post.stderr.decode(errors="replace") + big_post.stdout[:200].decode(errors="replace"))
    # A static file from nginx itself: with a slow reader (QEMU on a loaded machine), nginx
    # proxying httpbin's 100 KiB sometimes sent the body with its tail moved to the middle (the
    # device's TLS plaintext, authenticated by AEAD, showed the same), so the proxy is not used.
    remote = mreq(args.mreq, "--device", device, "get", tls["good"] + "/files/tls100k.bin")
    local = open(os.path.join(tls["www"], "tls100k.bin"), "rb").read()
    first_difference = next((i for i, (a, b) in enumerate(zip(remote.stdout, local)) if a != b), None)
    check("100 KiB over https (7 records) matches the file", remote.returncode == 0 and remote.stdout == local,
          f"device: exit {remote.returncode}, {len(remote.stdout)} bytes, {remote.stderr.decode(errors='replace')}; "
          f"first difference at {first_difference}")
    # The check this file replaced, back beside it: httpbin's 100 KiB through nginx's TLS proxy
    # against mreq's own plain-http download. The mismatches once blamed on nginx were mreq's
    # stdout reordering bodies above 64 KiB (the local side); fixed, they must agree.
    path = "/bytes/102400?seed=7"
    remote = mreq(args.mreq, "--device", device, "get", tls["good"] + path)
    local = mreq(args.mreq, "get", local_hb + path)
    first_difference = next((i for i, (a, b) in enumerate(zip(remote.stdout, local.stdout)) if a != b), None)
    check("100 KiB of httpbin through nginx's https proxy matches mreq's plain-http download",
          remote.returncode == 0 and len(local.stdout) == 102400 and remote.stdout == local.stdout,
          f"device: exit {remote.returncode}, {len(remote.stdout)} bytes, {remote.stderr.decode(errors='replace')}; "
          f"local: exit {local.returncode}, {len(local.stdout)} bytes; first difference at {first_difference}")
    for kind, reason in [("wrongname", "NotValidForName"), ("expired", "Expired"), ("untrusted", "UnknownIssuer")]:
        bad = mreq(args.mreq, "--device", device, "get", tls[kind] + "/get")
        err = bad.stderr.decode(errors="replace")
        check(f"{kind} certificate refused: exit 60, the reason said", bad.returncode == 60 and
              "TLS certificate error" in err and reason.lower() in err.replace(" ", "").lower() and not bad.stdout,
              f"exit {bad.returncode}: {err}")


class TelemetryServer:
    """What the telemetry example talks to: POST /readings (recorded with the connection it came
    on), GET /settings (the JSON in `settings`). `restart` stops listening and starts again on the
    same port, as a server being redeployed."""

    def __init__(self, tls=None):
        self.tls = tls  # (certificate file, key file): https
        self.posts = []  # (client port, content type, body)
        self.settings = {"every_ms": 150, "unit": "ms"}
        self.lock = threading.Lock()
        self.connections = []
        self.port = free_port()
        self.server = None
        self.start()

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server

            def log_message(self, *a):
                pass

            def setup(self):
                if owner.tls:
                    # The handshake in this connection's thread, bounded: a client that refuses
                    # the certificate must not hold up the server (or its shutdown).
                    self.request.settimeout(10)
                    self.request = owner.context.wrap_socket(self.request, server_side=True)
                super().setup()
                # http.server writes the head and the body separately: with Nagle the body waits
                # for the device's delayed ACK, 17 posts/s instead of 330 (nginx sends them together).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with owner.lock:
                    owner.connections.append(self.connection)

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != "/readings":
                    return self.answer(404, b"{}")
                with owner.lock:
                    owner.posts.append((self.client_address[1], self.headers.get("Content-Type"), body))
                self.answer(200, b'{"ok":true}')

            def do_GET(self):
                if self.path != "/settings":
                    return self.answer(404, b"{}")
                with owner.lock:
                    body = json.dumps(owner.settings).encode()
                self.answer(200, body)

        if self.tls:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*self.tls)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        # A refused handshake is expected (the no-CA boot): not a traceback on stderr.
        self.server.handle_error = lambda request, address: None
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        """Stops listening and drops the kept-alive connections, as a restarted process would."""
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def wait_posts(self, count, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len({self.seq(body) for _, _, body in self.posts} - {None}) >= count:
                    return True
            time.sleep(0.05)
        return False

    @staticmethod
    def seq(body):
        try:
            return json.loads(body)["seq"]
        except (ValueError, KeyError, TypeError):
            return None


def telemetry_checks(args, work, procs):
    """The application example (firmware/boards/qemu/examples/telemetry.rs) against a server on
    this machine: N well-formed posts in order, through a server restart, settings acted on."""
    server = TelemetryServer()
    console = telemetry_boot(args, work, procs, "telemetry", f"http://10.0.2.2:{server.port}", "300")
    try:
        first = server.wait_posts(4, 60)
        check("telemetry example: posts arrive", first, console()[-1500:])
        if not first:
            return
        server.stop()
        time.sleep(2)
        server.start()
        after = server.wait_posts(10, 90)
        with server.lock:
            posts = list(server.posts)
        readings = []
        for _, content_type, body in posts:
            try:
                reading = json.loads(body)
            except ValueError:
                reading = None
            readings.append((content_type, reading))
        well_formed = all(ct == "application/json" and isinstance(r, dict)
                          and set(r) == {"seq", "uptime_ms", "heap_peak", "stack_peak"}
                          and all(isinstance(v, int) for v in r.values()) for ct, r in readings)
        check("telemetry example: every post is well-formed JSON with its content type", well_formed,
              repr(readings[:3]))
        seqs = [r["seq"] for _, r in readings if isinstance(r, dict) and "seq" in r]
        # In order, none lost across the restart; a retried post may arrive twice, one after the other.
        in_order = seqs[:1] == [1] and all(b in (a, a + 1) for a, b in zip(seqs, seqs[1:]))
        check("telemetry example: 10 posts in order through a server restart, none lost", after and in_order,
              f"seqs {seqs}; console: {console()[-1500:]}")
        text = console()
        check("telemetry example: the restart was seen and retried with backoff",
              re.search(r"telemetry: seq \d+: .*; retry in 100 ms", text) is not None
              and re.search(r"retry in 200 ms", text) is not None, text[-1500:])
        check("telemetry example: the fetched setting is acted on", "telemetry: settings: every_ms 150" in text, text[-1500:])

        # Requests per second over a kept-alive connection: the server says every_ms 0.
        with server.lock:
            server.settings = {"every_ms": 0}
            start_count = len(server.posts)
        server.wait_posts(max(seqs) + SETTINGS_LAG, 60)
        with server.lock:
            started = len(server.posts)
        began = time.time()
        burst = server.wait_posts(max(seqs) + SETTINGS_LAG + 50, 120)
        took = time.time() - began
        with server.lock:
            rate_posts = server.posts[started:]
        ports = {port for port, _, _ in rate_posts}
        check("telemetry example: every_ms 0 taken; posts kept alive on one connection",
              burst and "telemetry: settings: every_ms 0" in console() and len(ports) <= 2,
              f"{len(rate_posts)} posts over {len(ports)} connections")
        if burst and took > 0:
            print(f"telemetry example: {len(rate_posts) / took:.0f} posts/s (JSON POST + read answer, kept alive, "
                  f"{len(ports)} connection(s)) from {start_count} posts before", flush=True)
        peaks = re.findall(r"heap peak (\d+) B, stack peak (\d+) B", console())
        if peaks:
            print(f"telemetry example: heap peak {peaks[-1][0]} B, stack peak {peaks[-1][1]} B", flush=True)
    finally:
        server.stop()


def telemetry_boot(args, work, procs, name, server, every_ms, *options):
    """Boots the example configured for `server`; returns a function reading its console."""
    image = flash_image(args, os.path.join(work, f"cfg-{name}.img"), "--app-setting", f"SERVER={server}",
                        "--app-setting", f"EVERY_MS={every_ms}", *options)
    log = os.path.join(work, f"{name}.out")
    qemu = qemu_command(args.telemetry_elf, image, "-serial", f"file:{log}")
    procs.append(subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    return lambda: open(log, errors="replace").read() if os.path.exists(log) else ""


def telemetry_tls_checks(args, work, procs, tls):
    """The example over https: a server with the test CA's certificate for 10.0.2.2 (CPython's
    ssl, that is OpenSSL), the CA and the SNTP server given to the board by mreq-flash."""
    server = TelemetryServer(tls=(os.path.join(work, "good.pem"), os.path.join(work, "good.key")))
    console = telemetry_boot(args, work, procs, "telemetry-tls", f"https://10.0.2.2:{server.port}", "100",
                             "--cacert", tls["ca"], "--ntp", tls["ntp"])
    try:
        arrived = server.wait_posts(5, 120)
        with server.lock:
            seqs = [TelemetryServer.seq(body) for _, _, body in server.posts]
            ports = {port for port, _, _ in server.posts}
        check("telemetry example over https: 5 posts in order, kept alive",
              arrived and seqs[:5] == [1, 2, 3, 4, 5] and len(ports) == 1,
              f"seqs {seqs}, {len(ports)} connection(s); console: {console()[-1500:]}")
    finally:
        server.stop()
    # The same server without the CA in the configuration: refused, said, retried, nothing sent.
    server = TelemetryServer(tls=(os.path.join(work, "good.pem"), os.path.join(work, "good.key")))
    console = telemetry_boot(args, work, procs, "telemetry-noca", f"https://10.0.2.2:{server.port}", "100",
                             "--ntp", tls["ntp"])
    try:
        deadline = time.time() + 60
        while time.time() < deadline and console().count("TLS certificate error") < 2:
            time.sleep(0.2)
        text = console()
        with server.lock:
            posted = len(server.posts)
        check("telemetry example over https, CA not configured: certificate refused, retried, nothing posted",
              re.search(r"telemetry: seq 1: TLS certificate error: .*; retry in 100 ms", text) is not None
              and text.count("TLS certificate error") >= 2 and posted == 0, f"{posted} posts; {text[-1500:]}")
    finally:
        server.stop()


# Posts made before a changed setting is fetched (it is fetched with every fifth post).
SETTINGS_LAG = 5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elf", required=True)
    ap.add_argument("--mreq", required=True)
    ap.add_argument("--flasher", required=True, help="the mreq-flash binary")
    ap.add_argument("--telemetry-elf", required=True, help="the application example's firmware")
    ap.add_argument("--qemu-args", default="", help="extra QEMU arguments")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="mreq-qemu-")
    procs = []
    try:
        # A real httpbin and a static file server (1 MiB of random bytes) on 127.0.0.1.
        hb_port = free_port()
        procs.append(subprocess.Popen(start_new_session=True, args=
            ["/usr/bin/python3", "-m", "gunicorn", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{hb_port}",
             "--log-level", "warning", "httpbin:app"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        www = os.path.join(work, "www")
        os.makedirs(www)
        big = os.urandom(1024 * 1024)
        with open(os.path.join(www, "big.bin"), "wb") as f:
            f.write(big)
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=www, **k)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        file_port = files.server_address[1]
        threading.Thread(target=files.serve_forever, daemon=True).start()
        if not wait_port(hb_port, 20):
            check("httpbin started", False)
            return 1
        # https: nginx with the test CA's certificates in front of httpbin, and an SNTP server.
        kinds = qemu_tls.make_certificates(work)
        tls_ports = qemu_tls.start_nginx(work, kinds, hb_port, www, free_port, procs)
        sntp = qemu_tls.SntpServer()
        tls = {kind: f"https://10.0.2.2:{port}" for kind, port in tls_ports.items()}
        tls["ca"] = os.path.join(work, "ca.pem")
        tls["ntp"] = f"10.0.2.2:{sntp.port}"
        tls["http"] = f"http://10.0.2.2:{hb_port}"
        tls["www"] = www
        with open(os.path.join(www, "tls100k.bin"), "wb") as f:
            f.write(os.urandom(100 * 1024))
        if not all(wait_port(port, 20) for port in tls_ports.values()):
            check("nginx started", False, open(os.path.join(work, "nginx", "error.log")).read())
            return 1

        host_hb = f"http://10.0.2.2:{hb_port}"
        local_hb = f"http://127.0.0.1:{hb_port}"
        hostile = qemu_hostile.HostileServer()
        image = os.path.join(work, "cfg.img")
        main_config = ["--startup-url", f"{host_hb}/get", "--cacert", tls["ca"], "--ntp", tls["ntp"]]
        flash_image(args, image, *main_config)

        # The QEMU method of mreq-flash boots it, the console on a socket this harness reads.
        console_port = free_port()
        started = time.time()
        flasher = subprocess.Popen([args.flasher, "--board", "qemu", "--no-build", "--elf", args.elf,
                                    *main_config, "--qemu-console", f"tcp:{console_port}",
                                    "--timeout", "600"],
                                   stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "qemu.err"), "wb"),
                                   start_new_session=True)
        procs.append(flasher)
        # QEMU starts the machine when the first client connects: that client must be us, reading.
        con = connect(console_port, 20)
        if con is None:
            check("QEMU listens on its console socket", False, open(os.path.join(work, "qemu.err")).read())
            return 1
        boot = read_until(con, b"mreq> ", 120).decode("utf-8", "replace")
        boot_seconds = time.time() - started
        print("---- console ----\n" + boot + "\n---- end ----", flush=True)
        check("config block read", "config: ok" in boot, boot)
        check("network up by DHCP", re.search(r"net: up 10\.0\.2\.\d+", boot) is not None)
        check("start-up GET answered 200", "startup: GET" in boot and "HTTP/1.1 200 OK" in boot)
        check("start-up body is httpbin's JSON", re.search(r'"url": ?"' + re.escape(host_hb) + r'/get"', boot) is not None)
        check("start-up body verified", re.search(r"-- ok: \d+ bytes, crc32 [0-9a-f]{8}", boot) is not None)
        check("memory reported", re.search(r"mem: heap \d+ B used, \d+ B peak; stack \d+ B peak", boot) is not None)
        check("clock set by SNTP at boot", re.search(r"time: 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC \(SNTP 10\.0\.2\.2:", boot) is not None
              and sntp.answered > 0)
        check("TLS trust anchors from the configuration", "tls: trusting 1 CA certificate(s) from the configuration" in boot)
        print(f"boot to first response: {boot_seconds:.2f} s (QEMU start to prompt)", flush=True)

        # A person at the console: 1 MiB download, checked by length and CRC-32 on the device.
        con.sendall(f"get http://10.0.2.2:{file_port}/big.bin\r".encode())
        out = read_until(con, b"mreq> ", 180)
        summary = re.search(rb"-- ok: (\d+) bytes, crc32 ([0-9a-f]{8})", out)
        check("1 MiB download on the console: length and CRC-32",
              summary is not None and int(summary.group(1)) == len(big) and int(summary.group(2), 16) == zlib.crc32(big),
              out[-300:].decode("utf-8", "replace"))
        mem = re.findall(rb"mem: heap (\d+) B used, (\d+) B peak; stack (\d+) B peak", out)
        if mem:
            print(f"after the 1 MiB download: heap peak {int(mem[-1][1])} B, stack peak {int(mem[-1][2])} B", flush=True)
        # https typed at the console: the handshake time and the memory it took.
        # The second request reuses the kept-alive TLS connection: no second handshake.
        for attempt in range(2):
            out = ask(con, f"get {tls['good']}/get")
            handshake = re.search(r"tls: handshake (\d+) ms \((TLSv1_[23] \w+)\)", out)
            # httpbin behind nginx sees plain http, so its "url" says http://.
            echoed = re.search(r'"url": ?"https?://' + re.escape(tls["good"].split("//")[1]) + '/get"', out)
            check(f"https GET at the console ({'new connection, TLS 1.3' if attempt == 0 else 'kept alive, no new handshake'})",
                  "HTTP/1.1 200 OK" in out and echoed is not None and (handshake is not None) == (attempt == 0)
                  and (attempt > 0 or handshake.group(2).startswith("TLSv1_3")), out[-600:])
            mem = re.findall(r"mem: heap (\d+) B used, (\d+) B peak; stack (\d+) B peak", out)
            if handshake and mem:
                print(f"https GET {attempt + 1}: handshake {handshake.group(1)} ms ({handshake.group(2)}); heap {mem[-1][0]} B used, "
                      f"{mem[-1][1]} B peak; stack peak {mem[-1][2]} B", flush=True)
        # The handshake time with an RSA-2048 server key (an RSA-PSS signature to verify).
        handshake = re.search(r"tls: handshake (\d+) ms \((TLSv1_[23] \w+)\)", ask(con, f"get {tls['rsa']}/get"))
        if handshake:
            print(f"https GET, RSA-2048 server key: handshake {handshake.group(1)} ms ({handshake.group(2)})", flush=True)
        con.close()

        device = f"tcp:127.0.0.1:{console_port}"
        # The same body through the device and locally.
        for path in ["/json", "/stream-bytes/4000?seed=2&chunk_size=300", "/base64/aGVsbG8gZnJvbSB0aGUgZmlybXdhcmU="]:
            remote = mreq(args.mreq, "--device", device, "get", host_hb + path)
            local = mreq(args.mreq, "get", local_hb + path)
            check(f"--device and local give the same body for {path}",
                  remote.returncode == 0 and remote.stdout == local.stdout and len(local.stdout) > 0,
                  remote.stderr.decode(errors="replace"))
        head = mreq(args.mreq, "--device", device, "--print=h", "get", host_hb + "/stream/3")
        check("chunked response through the device", b"Transfer-Encoding: chunked" in head.stdout, head.stdout.decode(errors="replace"))
        redirected = mreq(args.mreq, "--device", device, "-L", "--print=hb", "get", host_hb + "/redirect/2")
        check("redirect followed on the device with -L", redirected.stdout.startswith(b"HTTP/1.1 200 OK") and b'"url"' in redirected.stdout,
              redirected.stdout[:300].decode(errors="replace"))
        posted = mreq(args.mreq, "--device", device, "post", host_hb + "/post", "hello=world")
        try:
            echoed = json.loads(posted.stdout)["json"]
        except (ValueError, KeyError, TypeError):
            echoed = None
        check("POST with a JSON body from the device", echoed == {"hello": "world"}, posted.stdout.decode(errors="replace") + posted.stderr.decode(errors="replace"))
        agents = []
        for extra in ([], ["User-Agent:custom/1"]):
            got = mreq(args.mreq, "--device", device, "get", host_hb + "/user-agent", *extra)
            try:
                agents.append(json.loads(got.stdout)["user-agent"])
            except (ValueError, KeyError, TypeError):
                agents.append(got.stdout[:200].decode(errors="replace") + got.stderr.decode(errors="replace"))
        check("the device sends its own User-Agent (mreq-fw/VERSION (BOARD)), or the one given",
              re.fullmatch(r"mreq-fw/\d+\.\d+\.\d+ \(qemu\)", str(agents[0])) is not None and agents[1] == "custom/1",
              repr(agents))
        authed = mreq(args.mreq, "--device", device, "-u", "joe:pw", "get", host_hb + "/basic-auth/joe/pw")
        check("-u through the device authenticates", authed.returncode == 0 and b'"authenticated": true' in authed.stdout.replace(b'":true', b'": true'),
              authed.stdout[:200].decode(errors="replace") + authed.stderr.decode(errors="replace"))
        missing = mreq(args.mreq, "--device", device, "--check-status", "get", host_hb + "/status/404")
        check("404 gives exit 4 with --check-status", missing.returncode == 4, str(missing.returncode))
        refused = mreq(args.mreq, "--device", device, "get", "http://10.0.2.2:1/")
        check("unreachable port is a clear connect error (exit 7)",
              refused.returncode == 7 and b"could not connect" in refused.stderr, refused.stderr.decode(errors="replace"))
        download = mreq(args.mreq, "--device", device, "get", f"http://10.0.2.2:{file_port}/big.bin", timeout=300)
        check("1 MiB through --device matches the source (sha256)",
              download.returncode == 0 and hashlib.sha256(download.stdout).digest() == hashlib.sha256(big).digest(),
              f"{len(download.stdout)} bytes, {download.stderr.decode(errors='replace')}")
        device_checks(args, device, host_hb, local_hb, hostile, work, big, file_port)
        tls_checks(args, device, tls, local_hb)
        con = connect(console_port, 20)
        if con is not None:
            mem = re.search(r"mem: heap (\d+) B used, (\d+) B peak; stack (\d+) B peak", ask(con, "mem"))
            con.close()
            if mem:
                print(f"after the https checks (100 KiB in 16 KiB records): heap {mem.group(1)} B used, "
                      f"{mem.group(2)} B peak; stack peak {mem.group(3)} B", flush=True)
        qemu_pty(args, tls, host_hb, local_hb, procs, work, file_port)
        qemu_no_clock(args, tls, work, procs)
        qemu_no_rng(args, tls, work, procs)
        qemu_dns_boot(args, tls, work, procs)
        qemu_bad_config(args, image, work, procs, tls)
        telemetry_checks(args, work, procs)
        telemetry_tls_checks(args, work, procs, tls)
    except Exception as err:  # noqa: BLE001 - any failure of the harness is a failed check
        check("smoke run", False, repr(err))
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the flasher and the QEMU it started
            except (ProcessLookupError, PermissionError):
                pass
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"qemu smoke: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
