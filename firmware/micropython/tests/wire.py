"""Test servers for the MicroPython module's tests, all on 127.0.0.1 (stdlib only, plus
Debian's python3-cryptography for certificates through scripts/qemu_tls.py).

WireServer answers the raw responses of the conformance corpus (conformance/responses.json,
which the Rust tests read too) and echoes every other request as JSON, so a test sees
exactly what reached the server. Routes:
  /raw/NAME                      the bytes RAW[NAME], then the connection is closed
  /stall-head                    reads the request and never answers
  .../redirect?to=URL&status=N   a redirect (302 by default) to URL, sent as it is
  anything else                  200 with JSON {method, target, headers: [[name, value]], body}
"""
import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import qemu_hostile  # noqa: E402  (the project's hostile server)


def _resp(head, body=b""):
    return head.replace(b"\n", b"\r\n") + b"\r\n" + body


def corpus(name):
    """conformance/NAME (the corpus both engines are held to), as JSON."""
    with open(os.path.join(REPO, "conformance", name)) as f:
        return json.load(f)


def corpus_bytes(value):
    """Bytes written in the corpus: one character per byte, or pieces and [piece, count] repeats."""
    if isinstance(value, str):
        return value.encode("latin-1")
    return b"".join(corpus_bytes(p[0]) * p[1] if isinstance(p, list) else corpus_bytes(p)
                    for p in value)


# The raw responses: every case of the shared corpus, and the module's own limits.
RAW = {case["name"]: corpus_bytes(case["wire"]) for case in corpus("responses.json")["cases"]}
RAW["long-header"] = _resp(b"HTTP/1.1 200 OK\nX-Long: " + b"l" * 5000 + b"\nContent-Length: 0\n")


def _read_request(conn):
    """(head text, body bytes) of one request, or (None, b"") if the peer went away."""
    head, body = qemu_hostile._read_head(conn)
    if head is None:
        return None, b""
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head, body


def _echo(head, body):
    lines = head.split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    fields = [[n.strip(), v.strip()] for n, _, v in (line.partition(":") for line in lines[1:])]
    doc = json.dumps({"method": method, "target": target, "headers": fields,
                      "body": body.decode("latin-1")}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % len(doc) + doc)


class WireServer:
    """A thread per connection; `tls` is a server-side SSLContext for https."""

    def __init__(self, tls=None):
        self.tls = tls
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, path)

    def close(self):
        self.stop.set()
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(30)
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head, body = _read_request(conn)
            if head is None:
                return
            conn.sendall(self._answer(head, body))
        except (OSError, ssl.SSLError):
            pass  # a client that refused our certificate, or went away
        finally:
            conn.close()

    def _answer(self, head, body):
        target = head.split(" ", 2)[1]
        path, _, query = target.partition("?")
        if path.startswith("/raw/"):
            return RAW[path[5:]]
        if path == "/stall-head":
            self.stop.wait(30)
            return b""
        args = urllib.parse.parse_qs(query)
        if path.endswith("/redirect") and "to" in args:
            status = int(args.get("status", ["302"])[0])
            return (b"HTTP/1.1 %d Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                    % (status, args["to"][0].encode("utf-8")))
        return _echo(head, body)


def header(doc, name):
    """The values of header `name` in an echo document, in order."""
    return [v for n, v in doc["headers"] if n.lower() == name.lower()]


def hostile():
    """The project's hostile server (scripts/qemu_hostile.py) and its base URL."""
    server = qemu_hostile.HostileServer()
    return server, "http://127.0.0.1:%d" % server.port


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Httpbin:
    """httpbin under gunicorn on a free port of 127.0.0.1, as scripts/qemu_smoke.py runs it."""

    def __init__(self):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "gunicorn", "-k", "gthread", "--threads", "8",
             "-b", "127.0.0.1:%d" % self.port, "--log-level", "warning", "httpbin:app"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/get", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.close()
                    raise RuntimeError("httpbin did not start (python3-httpbin, python3-gunicorn)")
                time.sleep(0.2)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_certificates(work):
    """A test CA, a second CA nobody trusts, and server certificates signed by the first:
    'good' for 127.0.0.1 and localhost, 'wrongname' for other.example only. Returns a dict of
    paths and DER bytes."""
    import qemu_tls
    from cryptography.hazmat.primitives import serialization
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key, ca = qemu_tls._ca("mreq module test CA")
    _, other = qemu_tls._ca("a CA nobody trusts")
    out = {"ca_der": ca.public_bytes(serialization.Encoding.DER),
           "other_der": other.public_bytes(serialization.Encoding.DER),
           "ca_pem": ca.public_bytes(serialization.Encoding.PEM).decode()}
    for kind, names in (("good", ["127.0.0.1", "localhost"]), ("wrongname", ["other.example"])):
        key, cert = qemu_tls._leaf(ca_key, ca, names, now - day, now + 30 * day)
        pem, keyfile = os.path.join(work, kind + ".pem"), os.path.join(work, kind + ".key")
        qemu_tls._write(pem, cert)
        qemu_tls._write(keyfile, key)
        out[kind] = (pem, keyfile)
    return out


def server_context(pem_key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pem_key)
    return ctx
