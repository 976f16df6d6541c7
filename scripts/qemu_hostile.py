"""A deliberately broken HTTP server on 127.0.0.1 for the QEMU smoke test (stdlib only): each
route answers one way a response can be wrong, so `mreq --device` (the firmware's engine) can be
compared with a local `mreq` (the same engine on the host) on each. A few honest routes help
check what reached the server: /headers echoes the request head, /sha256 hashes the body.

Routes: /truncated, /bad-chunk, /overflow-chunk, /lying-length, /no-crlf, /stall, /loop,
/headers, /sha256, /slow-body (a 64 KiB body in 1 KiB pieces, 50 ms apart)."""

import hashlib
import socket
import threading
import time


def _read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(4096)
        if not piece:
            return None, b""
        data += piece
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def _read_body(conn, head, rest):
    fields = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        want = int(fields["content-length"])
        while len(rest) < want:
            piece = conn.recv(65536)
            if not piece:
                break
            rest += piece
        return rest[:want]
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        buf = rest
        while True:
            while b"\r\n" not in buf:
                buf += conn.recv(65536)
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += conn.recv(65536)
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                return body
    return b""


def _answer(conn, path, head, rest):
    if path == "/truncated":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50)
    elif path == "/bad-chunk":
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
    elif path == "/overflow-chunk":
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nx")
    elif path == "/lying-length":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello")
    elif path == "/no-crlf":
        conn.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi")
    elif path == "/stall":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"s" * 10)
        time.sleep(30)
    elif path == "/loop":
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
        return True
    elif path == "/headers":
        body = head.encode("latin-1")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    elif path == "/sha256":
        body = _read_body(conn, head, rest)
        digest = hashlib.sha256(body).hexdigest().encode() + b" %d" % len(body)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(digest) + digest)
    elif path == "/slow-body":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n")
        for _ in range(64):
            conn.sendall(b"b" * 1024)
            time.sleep(0.05)
    else:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return False


def _serve(conn):
    try:
        conn.settimeout(60)
        keep = True
        while keep:
            head, rest = _read_head(conn)
            if head is None:
                return
            path = head.split(" ")[1] if " " in head else "/"
            keep = _answer(conn, path, head, rest)
    except OSError:
        pass
    finally:
        conn.close()


class HostileServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=_serve, args=(conn,), daemon=True).start()
