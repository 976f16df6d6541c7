#!/usr/bin/env python3
"""Boots the QEMU firmware and checks that it makes real requests to servers on this machine.

Called by scripts/qemu-smoke.sh with the firmware ELF and the mreq binary. Starts httpbin
(gunicorn) and a static file server on 127.0.0.1, builds a pflash image whose start-up request
points at httpbin, boots QEMU with its console on a TCP socket, asserts on what the firmware
prints, then drives the firmware's request shell with `mreq --device` and compares with local
requests. Every step is bounded in time; QEMU and the servers are always stopped.
"""
import argparse, hashlib, http.server, json, os, signal, re, shutil, socket, subprocess, sys, tempfile, threading, time, zlib

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
    return subprocess.run([binary, *args], capture_output=True, timeout=timeout)


def qemu_command(elf, image, *serial):
    """The QEMU virt machine of the firmware, with the pflash image and the given console."""
    return ["qemu-system-riscv32", "-machine", "virt", "-m", "128M", "-nographic", "-bios", "none",
            # Not -kernel: with pflash unit 1 attached, virt would take it for firmware.
            "-device", f"loader,file={elf}", "-global", "virtio-mmio.force-legacy=false",
            "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
            "-drive", f"if=pflash,unit=1,format=raw,file={image}", *serial, "-monitor", "none"]


def qemu_pty(args, image, host_hb, local_hb, procs, work):
    """A second boot with the console on a pseudo-terminal: `mreq --device /dev/pts/N`."""
    log = os.path.join(work, "qemu-pty.out")
    # A copy: QEMU locks the image the first instance has open.
    copy = os.path.join(work, "cfg-pty.img")
    shutil.copyfile(image, copy)
    image = copy
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
    check("--device on a serial device (pty) gives the local body",
          remote.returncode == 0 and remote.stdout == local.stdout, remote.stderr.decode(errors="replace"))


def qemu_bad_config(args, image, work, procs):
    """Boots with a corrupt and with an erased configuration block: the firmware must say so and
    fall back to defaults (DHCP, no start-up request), with its shell still there."""
    with open(image, "rb") as f:
        good = f.read()
    corrupt = bytearray(good)
    corrupt[12] ^= 0x01  # inside the entries: the CRC no longer matches
    erased = b"\xff" * len(good)
    for name, content, expected in [("corrupt", bytes(corrupt), "CRC mismatch"), ("erased", erased, "erased flash")]:
        path = os.path.join(work, f"cfg-{name}.img")
        with open(path, "wb") as f:
            f.write(content)
        port = free_port()
        qemu = qemu_command(args.elf, path, "-chardev", f"socket,id=con,host=127.0.0.1,port={port},server=on,wait=on",
                            "-serial", "chardev:con")
        procs.append(subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        con = connect(port, 20)
        if con is None:
            check(f"{name} configuration: QEMU console", False)
            continue
        try:
            text = read_until(con, b"mreq> ", 60).decode("utf-8", "replace")
        except (TimeoutError, ConnectionError) as err:
            text = repr(err)
        finally:
            con.close()
        check(f"{name} configuration block: reported, defaults used, shell up",
              expected in text and "using defaults" in text and "startup:" not in text and "mreq>" in text, text[-600:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elf", required=True)
    ap.add_argument("--mreq", required=True)
    ap.add_argument("--flasher", required=True, help="the mreq-flash binary")
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

        host_hb = f"http://10.0.2.2:{hb_port}"
        local_hb = f"http://127.0.0.1:{hb_port}"
        image = os.path.join(work, "cfg.img")
        subprocess.run([args.flasher, "--board", "qemu", "--no-build", "--elf", args.elf,
                        "--startup-url", f"{host_hb}/get", "--pflash-out", image], check=True, timeout=30)

        # The QEMU method of mreq-flash boots it, the console on a socket this harness reads.
        console_port = free_port()
        started = time.time()
        flasher = subprocess.Popen([args.flasher, "--board", "qemu", "--no-build", "--elf", args.elf,
                                    "--startup-url", f"{host_hb}/get", "--qemu-console", f"tcp:{console_port}",
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
        redirected = mreq(args.mreq, "--device", device, "--print=hb", "get", host_hb + "/redirect/2")
        check("redirect followed on the device", redirected.stdout.startswith(b"HTTP/1.1 200 OK") and b'"url"' in redirected.stdout,
              redirected.stdout[:300].decode(errors="replace"))
        posted = mreq(args.mreq, "--device", device, "post", host_hb + "/post", "hello=world")
        try:
            echoed = json.loads(posted.stdout)["json"]
        except (ValueError, KeyError, TypeError):
            echoed = None
        check("POST with a JSON body from the device", echoed == {"hello": "world"}, posted.stdout.decode(errors="replace") + posted.stderr.decode(errors="replace"))
        missing = mreq(args.mreq, "--device", device, "--check-status", "get", host_hb + "/status/404")
        check("404 gives exit 4 with --check-status", missing.returncode == 4, str(missing.returncode))
        refused = mreq(args.mreq, "--device", device, "get", "http://10.0.2.2:1/")
        check("unreachable port is a clear connect error (exit 7)",
              refused.returncode == 7 and b"could not connect" in refused.stderr, refused.stderr.decode(errors="replace"))
        download = mreq(args.mreq, "--device", device, "get", f"http://10.0.2.2:{file_port}/big.bin", timeout=300)
        check("1 MiB through --device matches the source (sha256)",
              download.returncode == 0 and hashlib.sha256(download.stdout).digest() == hashlib.sha256(big).digest(),
              f"{len(download.stdout)} bytes, {download.stderr.decode(errors='replace')}")
        qemu_pty(args, image, host_hb, local_hb, procs, work)
        qemu_bad_config(args, image, work, procs)
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
