"""mrequests under CPython against httpbin, the project's hostile server, a raw wire server and
a local TLS server, all on 127.0.0.1. Run from the repository's root:
    /usr/bin/python3 -m unittest discover -s firmware/micropython/tests -t firmware/micropython
"""
import io
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
import types
import unittest
import urllib.parse
from unittest import mock

import mrequests
from mrequests import ProtocolError, RedirectError, TLSError, TruncatedError

from . import wire

HB = HOSTILE = H = WIRE = WIRE2 = None


def setUpModule():
    global HB, HOSTILE, H, WIRE, WIRE2
    # never a mreq_config.json that happens to lie in the working directory
    mrequests.CONFIG = "/nonexistent/mreq_config.json"
    mrequests._tls_cache = None
    WIRE, WIRE2 = wire.WireServer(), wire.WireServer()
    HOSTILE, H = wire.hostile()
    HB = wire.Httpbin()


def tearDownModule():
    if HB:
        HB.close()
    HOSTILE.sock.close()
    WIRE.close()
    WIRE2.close()


def raw(name, **kw):
    return mrequests.get(WIRE.url("/raw/" + name), **kw)


def redirect_to(server, target, status=302, base="/redirect"):
    return server.url("%s?%s" % (base, urllib.parse.urlencode({"to": target, "status": status})))


def hb_redirect(target, status):
    return HB.base + "/redirect-to?" + urllib.parse.urlencode({"url": target, "status_code": status})


class FakeNet:
    """Stands in for the socket module: records what the client does and answers `reply`."""
    SOCK_STREAM = socket.SOCK_STREAM

    def __init__(self, reply=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"):
        self.reply, self.calls, self.sent = reply, [], b""

    def getaddrinfo(self, host, port, af=0, kind=0):
        self.calls.append(("getaddrinfo", host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port))]

    def socket(self, *args):
        return FakeSock(self)


class FakeSock:
    def __init__(self, net):
        self.net = net

    def settimeout(self, t):
        self.net.calls.append(("settimeout", t))

    def connect(self, addr):
        self.net.calls.append(("connect", addr))

    def sendall(self, data):
        self.net.sent += bytes(data)

    def makefile(self, mode):
        return io.BytesIO(self.net.reply)

    def close(self):
        self.net.calls.append(("close",))


class MicroPythonSocket:
    """A CPython socket with only the stream methods of a MicroPython socket (read, readline,
    readinto, write), so the MICROPY code path runs against the real servers."""

    def __init__(self, *args):
        self._s, self._f = socket.socket(*args), None

    def settimeout(self, t):
        self._s.settimeout(t)

    def connect(self, addr):
        self._s.connect(addr)
        self._f = self._s.makefile("rb")

    def write(self, data):
        self._s.sendall(data)
        return len(data)

    def read(self, n=-1):
        return self._f.read(n)

    def readline(self, n=-1):
        return self._f.readline(n)

    def readinto(self, buf):
        return self._f.readinto(buf)

    def close(self):
        if self._f:
            self._f.close()
        self._s.close()


MP_SOCKET = types.SimpleNamespace(getaddrinfo=socket.getaddrinfo, socket=MicroPythonSocket,
                                  SOCK_STREAM=socket.SOCK_STREAM)


class Case(unittest.TestCase):
    """Closes every response a test leaves open (as a program on a board must)."""

    def setUp(self):
        real = mrequests._exchange

        def exchange(*args):
            resp = real(*args)
            self.addCleanup(resp.close)
            return resp

        patcher = mock.patch.object(mrequests, "_exchange", exchange)
        patcher.start()
        self.addCleanup(patcher.stop)


class Framing(Case):
    """Bodies are complete or an error (RFC 9112 section 6)."""

    def test_truncated_length_body_raises_and_keeps_raising(self):
        r = mrequests.get(H + "/truncated")  # Content-Length: 100, 50 bytes, close
        self.assertEqual(r.read(10), b"x" * 10)
        with self.assertRaises(TruncatedError):
            r.read()
        with self.assertRaises(TruncatedError):
            r.read(1)
        r = mrequests.get(H + "/truncated")
        for _ in range(2):
            with self.assertRaises(TruncatedError):
                r.content

    def test_truncated_readinto_raises(self):
        r = mrequests.get(H + "/truncated")
        buf, got = bytearray(30), b""
        with self.assertRaises(TruncatedError):
            while True:
                n = r.readinto(buf)
                self.assertGreater(n, 0, "readinto() ended a truncated body as if complete")
                got += buf[:n]
        self.assertEqual(got, b"x" * 30)
        with self.assertRaises(TruncatedError):
            r.readinto(buf)

    def test_truncated_chunked_bodies_raise(self):
        for name in ("truncated-chunked", "truncated-in-chunk", "truncated-after-data",
                     "truncated-trailers"):
            r = raw(name)
            with self.assertRaises(TruncatedError, msg=name):
                r.content
            with self.assertRaises(TruncatedError, msg=name):
                r.read()

    def test_save_of_a_truncated_body_raises(self):
        path = os.path.join(tempfile.mkdtemp(), "part.bin")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        with self.assertRaises(TruncatedError):
            mrequests.get(H + "/truncated").save(path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"x" * 50)  # what came is kept, the error says the rest
        with self.assertRaises(TruncatedError):
            mrequests.get(H + "/truncated").save(path, bytearray(16))

    def test_chunk_extensions_and_trailers_are_decoded(self):
        r = raw("chunk-ext", save_headers=True)
        self.assertTrue(r.chunked)
        self.assertEqual(r.content, b"hello world")
        self.assertNotIn("x-trailer", r.headers)
        self.assertEqual(raw("chunk-zeros").content, b"hello")
        self.assertEqual(raw("chunk-lf").content, b"hello")

    def test_chunked_read_in_small_pieces(self):
        r = raw("chunk-ext")
        self.assertEqual([r.read(4) for _ in range(4)], [b"hell", b"o wo", b"rld", b""])

    def test_invalid_chunk_sizes_are_errors(self):
        urls = [H + "/bad-chunk", H + "/overflow-chunk"] + [
            WIRE.url("/raw/" + n) for n in ("chunk-negative", "chunk-0x", "chunk-suffix",
                                            "chunk-empty-size", "chunk-plus")]
        for url in urls:
            r = mrequests.get(url)
            with self.assertRaises(ProtocolError, msg=url) as cm:
                r.content
            self.assertNotIsInstance(cm.exception, TruncatedError, url)
            with self.assertRaises(ProtocolError, msg=url):
                r.read()

    def test_chunk_data_must_end_with_crlf(self):
        with self.assertRaises(ProtocolError):
            raw("chunk-no-crlf").content
        with self.assertRaises(ProtocolError):
            raw("chunk-bad-trailer").content

    def test_close_delimited_body_is_read_to_eof(self):
        r = raw("close-delimited")
        self.assertFalse(r.chunked)
        self.assertEqual(r.content, b"c" * 3000)
        r = raw("close-delimited-10")
        self.assertEqual([r.read(4), r.read(4), r.read(4), r.read(4)],
                         [b"0123", b"4567", b"89", b""])
        buf = bytearray(7)
        r = raw("close-delimited-10")
        self.assertEqual((r.readinto(buf), bytes(buf)), (7, b"0123456"))
        self.assertEqual((r.readinto(buf), bytes(buf[:3])), (3, b"789"))
        self.assertEqual(r.readinto(buf), 0)

    def test_content_length_values(self):
        self.assertEqual(raw("length-twice-same").content, b"hello")
        self.assertEqual(raw("length-list-same").content, b"hello")
        self.assertEqual(raw("length-zero").content, b"")
        for url in [H + "/lying-length"] + [WIRE.url("/raw/" + n) for n in
                                            ("length-list-differs", "length-negative", "length-junk")]:
            with self.assertRaises(ProtocolError, msg=url):
                mrequests.get(url)

    def test_transfer_encodings_other_than_chunked_are_errors(self):
        for name in ("te-gzip", "te-gzip-chunked", "te-twice"):
            with self.assertRaises(ProtocolError, msg=name):
                raw(name)

    def test_chunked_wins_over_content_length(self):
        self.assertEqual(raw("te-and-length").content, b"abc")

    def test_interim_responses_are_skipped(self):
        r = raw("interim", save_headers=True)
        self.assertEqual((r.status_code, r.reason, r.content), (200, b"OK", b"ok"))
        self.assertEqual(r.headers.get("x-final"), "yes")
        self.assertNotIn("link", r.headers)  # the 103's header is not the response's

    def test_unasked_switching_protocols_and_endless_interim_are_errors(self):
        for name, says in (("switching", "101"), ("many-interim", "interim")):
            with self.assertRaises(ProtocolError, msg=name) as cm:
                raw(name)
            self.assertNotIsInstance(cm.exception, TruncatedError, name)
            self.assertIn(says, str(cm.exception))

    def test_status_lines(self):
        for name in ("bad-status", "http2-status"):
            with self.assertRaises(ProtocolError, msg=name):
                raw(name)
        r = raw("no-reason")
        self.assertEqual((r.status_code, r.reason, r.content), (200, b"", b"ok"))

    def test_a_head_cut_short_is_truncated(self):
        for name in ("empty", "half-head"):
            with self.assertRaises(TruncatedError, msg=name):
                raw(name)

    def test_bad_header_lines_are_errors(self):
        for name in ("obs-fold", "space-before-colon", "bare-cr", "long-header", "many-headers"):
            with self.assertRaises(ProtocolError, msg=name):
                raw(name)

    def test_bare_lf_line_ends_are_accepted(self):
        # RFC 9112 section 2.2, as the Rust engine does (the hostile server's /no-crlf)
        self.assertEqual(mrequests.get(H + "/no-crlf").content, b"hi")

    def test_no_content_has_no_body(self):
        self.assertEqual(raw("no-content").content, b"")

    def test_read_after_close_raises(self):
        r = raw("close-delimited")
        r.close()
        with self.assertRaises(ValueError):
            r.read()

    def test_content_after_a_partial_read_is_refused(self):
        r = raw("close-delimited")
        r.read(10)
        with self.assertRaises(ValueError):
            r.content


class FramingOnMicroPythonSockets(Framing):
    """The same checks through the MicroPython code path: the socket is the stream."""

    def setUp(self):
        super().setUp()
        for name, value in (("MICROPY", True), ("socket", MP_SOCKET)):
            patcher = mock.patch.object(mrequests, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_the_micropython_path_is_taken(self):
        r = raw("chunk-ext")
        self.assertIsInstance(r._sf, MicroPythonSocket)
        self.assertIs(r._sf, r._sock)
        self.assertEqual(r.content, b"hello world")


class Httpbin(Case):

    def test_get_json_and_status(self):
        r = mrequests.get(HB.base + "/get?a=1")
        self.assertEqual((r.status_code, r.reason), (200, b"OK"))
        doc = r.json()
        self.assertEqual(doc["args"], {"a": "1"})
        self.assertEqual(r.url, HB.base + "/get?a=1")
        self.assertEqual(len(mrequests.get(HB.base + "/uuid").json()["uuid"]), 36)
        with self.assertRaises(ValueError):  # an HTML 404 is not JSON
            mrequests.get(HB.base + "/no-such-page").json()

    def test_headers_sent(self):
        doc = mrequests.get(HB.base + "/headers").json()["headers"]
        self.assertEqual(doc["User-Agent"], "mreq-micropython/0.1")
        self.assertEqual(doc["Host"], "127.0.0.1:%d" % HB.port)
        doc = mrequests.get(HB.base + "/headers", headers={"user-agent": "mine/2"}).json()
        self.assertEqual(doc["headers"]["User-Agent"], "mine/2")
        echo = mrequests.get(WIRE.url("/x"), headers={b"User-Agent": b"mine/3"}).json()
        self.assertEqual(wire.header(echo, "user-agent"), ["mine/3"])
        self.assertEqual(wire.header(echo, "host"), ["127.0.0.1:%d" % WIRE.port])
        self.assertEqual(wire.header(echo, "connection"), ["close"])

    def test_json_body(self):
        doc = mrequests.post(HB.base + "/post", json={"n": 3, "s": "\u00e9"}).json()
        self.assertEqual(doc["json"], {"n": 3, "s": "\u00e9"})
        self.assertEqual(doc["headers"]["Content-Type"], "application/json")

    def test_form_body_from_a_dict(self):
        doc = mrequests.post(HB.base + "/post", data={"a": "1 2", "b": "\u00fc&=", "c": ""}).json()
        self.assertEqual(doc["form"], {"a": "1 2", "b": "\u00fc&=", "c": ""})
        self.assertEqual(doc["headers"]["Content-Type"], "application/x-www-form-urlencoded")

    def test_str_and_bytes_bodies_are_sent_as_they_are(self):
        doc = mrequests.put(HB.base + "/put", data="a=1&b", headers={"Content-Type": "text/plain"}).json()
        self.assertEqual((doc["data"], doc["form"]), ("a=1&b", {}))
        self.assertEqual(doc["headers"]["Content-Length"], "5")
        echo = mrequests.post(WIRE.url("/x"), data=b"\x00\x01raw").json()
        self.assertEqual(echo["body"], "\x00\x01raw")
        self.assertEqual(wire.header(echo, "content-length"), ["5"])
        self.assertEqual(wire.header(echo, "content-type"), [])

    def test_content_length_zero_for_post_without_body_none_for_get(self):
        self.assertEqual(wire.header(mrequests.post(WIRE.url("/x")).json(), "content-length"), ["0"])
        self.assertEqual(wire.header(mrequests.get(WIRE.url("/x")).json(), "content-length"), [])

    def test_caller_framing_headers_honoured_when_consistent_else_refused(self):
        echo = mrequests.post(WIRE.url("/x"), data=b"abc", headers={"Content-Length": "3"}).json()
        self.assertEqual(wire.header(echo, "content-length"), ["3"])
        echo = mrequests.get(WIRE.url("/x"), headers={"Connection": "close"}).json()
        self.assertEqual(wire.header(echo, "connection"), ["close"])
        for headers in ({"Content-Length": "99"}, {"Transfer-Encoding": "chunked"},
                        {"Connection": "keep-alive"}):
            with self.assertRaises(ValueError, msg=repr(headers)):
                mrequests.post(WIRE.url("/x"), data=b"abc", headers=headers)

    def test_basic_auth(self):
        url = HB.base + "/basic-auth/joe/s3cret"
        self.assertEqual(mrequests.get(url).status_code, 401)
        self.assertEqual(mrequests.get(url, auth=("joe", "s3cret")).json(),
                         {"authenticated": True, "user": "joe"})
        self.assertEqual(mrequests.get(url, auth=(b"joe", b"s3cret")).status_code, 200)
        self.assertEqual(mrequests.get(url, auth=lambda: ("joe", "s3cret")).status_code, 200)
        self.assertEqual(mrequests.get(url, auth=("joe", "wrong")).status_code, 401)
        # auth= replaces an Authorization header
        echo = mrequests.get(WIRE.url("/x"), auth=("a", "b"), headers={"authorization": "X"}).json()
        self.assertEqual(wire.header(echo, "authorization"), ["Basic YTpi"])

    def test_the_callers_headers_are_never_changed(self):
        headers = {"X-A": "1", b"X-B": b"2", "Authorization": "Bearer t"}
        before = dict(headers)
        mrequests.post(hb_redirect("/anything", 307), json={"k": 1}, headers=headers, auth=("u", "p"))
        mrequests.post(HB.base + "/post", data={"a": "b"}, headers=headers)
        mrequests.get(hb_redirect(WIRE.url("/x"), 302), headers=headers)
        self.assertEqual(headers, before)

    def test_head_and_no_content(self):
        r = mrequests.head(HB.base + "/bytes/5000")
        self.assertEqual((r.status_code, r.content), (200, b""))
        self.assertEqual(mrequests.get(HB.base + "/status/204").content, b"")
        self.assertEqual(mrequests.delete(HB.base + "/delete").json()["url"], HB.base + "/delete")
        self.assertEqual(mrequests.patch(HB.base + "/patch", data="p").json()["data"], "p")

    def test_read_sizes_and_readinto(self):
        for path in ("/bytes/1000?seed=3", "/stream-bytes/1000?seed=3&chunk_size=97"):
            whole = mrequests.get(HB.base + path).content
            self.assertEqual(len(whole), 1000, path)
            r = mrequests.get(HB.base + path)
            pieces = [r.read(100) for _ in range(11)]
            self.assertEqual(pieces[-1], b"", path)
            self.assertEqual([len(p) for p in pieces[:-1]], [100] * 10, path)
            self.assertEqual(b"".join(pieces), whole, path)
            r, buf, got = mrequests.get(HB.base + path), bytearray(300), b""
            while True:
                n = r.readinto(buf)
                if not n:
                    break
                got += buf[:n]
            self.assertEqual(got, whole, path)
            r, got = mrequests.get(HB.base + path), b""
            while True:
                n = r.readinto(buf, 64)
                self.assertLessEqual(n, 64)
                if not n:
                    break
                got += buf[:n]
            self.assertEqual(got, whole, path)

    def test_save_writes_the_whole_body(self):
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        for path in ("/bytes/20000?seed=7", "/stream-bytes/20000?seed=7&chunk_size=999"):
            whole = mrequests.get(HB.base + path).content
            target = os.path.join(work, "out.bin")
            self.assertEqual(mrequests.get(HB.base + path).save(target), 20000)
            with open(target, "rb") as f:
                self.assertEqual(f.read(), whole, path)
            self.assertEqual(mrequests.get(HB.base + path).save(target, bytearray(512)), 20000)
            with open(target, "rb") as f:
                self.assertEqual(f.read(), whole, path)
            out = io.BytesIO()
            self.assertEqual(mrequests.get(HB.base + path).saveinto(out, chunk_size=333), 20000)
            self.assertEqual(out.getvalue(), whole, path)

    def test_save_headers(self):
        r = mrequests.get(HB.base + "/response-headers?X-Thing=v1", save_headers=True)
        self.assertEqual(r.headers["x-thing"], "v1")
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertIsNone(mrequests.get(HB.base + "/get").headers)
        r = raw("dup-headers", save_headers=True)
        self.assertEqual((r.headers["x-dup"], r.headers["set-cookie"]), ("a, b", "c=1"))

    def test_encoding_and_text_from_the_charset(self):
        r = raw("latin1")
        self.assertEqual((r.encoding, r.text), ("iso-8859-1", "caf\u00e9"))
        r = mrequests.get(HB.base + "/get")  # application/json: no charset, UTF-8
        self.assertEqual(r.encoding, "utf-8")
        self.assertIn('"url"', r.text)

    def test_custom_response_class(self):
        seen = []

        class Mine(mrequests.Response):
            def add_header(self, data):
                self._parse_header(data)  # what upstream's subclasses do
                seen.append(data)

        r = mrequests.get(HB.base + "/get", response_class=Mine)
        self.assertIsInstance(r, Mine)
        self.assertTrue(any(line.lower().startswith(b"content-type:") for line in seen))
        self.assertEqual(r.json()["url"], HB.base + "/get")


class RequestChecks(Case):
    """What is refused or sent, seen on a fake socket module: nothing reaches a network."""

    def run_fake(self, url, reply=None, **kw):
        net = FakeNet() if reply is None else FakeNet(reply)
        with mock.patch.object(mrequests, "socket", net):
            return net, mrequests.request(kw.pop("method", "GET"), url, **kw)

    def test_cr_lf_in_headers_is_refused_before_connecting(self):
        bad = [{"X-A": "1\r\nX-Evil: 1"}, {"X-A": "1\nX-Evil: 1"}, {"X-A": "1\r"}, {b"X-A": b"a\r\n\r\nGET /"},
               {"X-A\r\nX-Evil": "1"}, {"X A": "1"}, {"X-A:": "1"}, {"": "1"}, {"X-A": "\x00"}]
        for headers in bad:
            net = FakeNet()
            with mock.patch.object(mrequests, "socket", net):
                with self.assertRaises(ValueError, msg=repr(headers)):
                    mrequests.get("http://example.org/", headers=headers)
            self.assertEqual((net.calls, net.sent), ([], b""), repr(headers))

    def test_bad_urls_and_methods_are_refused_before_connecting(self):
        for url in ("http://example.org/a b", "http://example.org/\r\nX: 1", "ftp://example.org/",
                    "example.org/", "/path", "http://", "http://example.org:99999/",
                    "http://example.org:8x/", "http://u:p@example.org/", "http://example.org/\u00e9"):
            net = FakeNet()
            with mock.patch.object(mrequests, "socket", net):
                with self.assertRaises(ValueError, msg=url):
                    mrequests.get(url)
            self.assertEqual(net.calls, [], url)
        for method in ("GET /x", "G\r\nET", ""):
            with self.assertRaises(ValueError):
                self.run_fake("http://example.org/", method=method)

    def test_host_header_and_request_line(self):
        net, _ = self.run_fake("http://Example.ORG/p?q=1#frag")
        self.assertTrue(net.sent.startswith(b"GET /p?q=1 HTTP/1.1\r\nHost: example.org\r\n"), net.sent)
        self.assertIn(("getaddrinfo", "example.org", 80), net.calls)
        net, _ = self.run_fake("http://example.org:8080")
        self.assertTrue(net.sent.startswith(b"GET / HTTP/1.1\r\nHost: example.org:8080\r\n"), net.sent)
        net, _ = self.run_fake("http://example.org?x")
        self.assertTrue(net.sent.startswith(b"GET /?x HTTP/1.1\r\n"), net.sent)
        net, _ = self.run_fake("http://[::1]:81/")
        self.assertIn(b"Host: [::1]:81\r\n", net.sent)
        self.assertIn(("getaddrinfo", "::1", 81), net.calls)
        net, _ = self.run_fake("http://example.org/", headers={"Host": "other.test"})
        self.assertEqual(net.sent.count(b"Host:"), 1)
        self.assertIn(b"Host: other.test\r\n", net.sent)
        self.assertTrue(net.sent.endswith(b"Connection: close\r\n\r\n"), net.sent)

    def test_every_address_is_tried(self):
        net = FakeNet()
        net.getaddrinfo = lambda host, port, af=0, kind=0: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        refused = FakeSock.connect

        def connect(sock, addr):
            refused(sock, addr)
            if addr[0] == "::1":
                raise ConnectionRefusedError(111, "refused")

        with mock.patch.object(FakeSock, "connect", connect), mock.patch.object(mrequests, "socket", net):
            self.assertEqual(mrequests.get("http://localhost:8/").status_code, 200)
        self.assertEqual([c[1][0] for c in net.calls if c[0] == "connect"], ["::1", "127.0.0.1"])

    def test_timeout_is_set_before_connecting(self):
        net, _ = self.run_fake("http://example.org/", timeout=2.5)
        self.assertEqual([c[0] for c in net.calls[:3]], ["getaddrinfo", "settimeout", "connect"])
        self.assertEqual(net.calls[1], ("settimeout", 2.5))

    def test_json_charset_and_forms_from_pairs(self):
        net, _ = self.run_fake("http://example.org/", method="POST", json=[1], encoding="utf-8")
        self.assertIn(b"Content-Type: application/json; charset=utf-8\r\n", net.sent)
        net, _ = self.run_fake("http://example.org/", method="POST", data=[("a", "1"), ("a", "2 3")])
        self.assertTrue(net.sent.endswith(b"\r\n\r\na=1&a=2+3"), net.sent)
        self.assertIn(b"Content-Length: 9\r\n", net.sent)
        net, _ = self.run_fake("http://example.org/", method="POST", data={"a": 1},
                               headers={"content-type": "text/x-mine"})
        self.assertEqual(net.sent.lower().count(b"content-type"), 1)
        with self.assertRaises(ValueError):
            mrequests.post("http://example.org/", data=b"x", json={})


class Redirects(Case):

    def test_method_rules(self):
        # (method, status) -> (method after, body kept)
        cases = {("POST", 301): ("GET", False), ("POST", 302): ("GET", False),
                 ("POST", 303): ("GET", False), ("POST", 307): ("POST", True),
                 ("POST", 308): ("POST", True), ("PUT", 301): ("PUT", True),
                 ("PUT", 302): ("PUT", True), ("PUT", 303): ("GET", False),
                 ("PUT", 307): ("PUT", True), ("DELETE", 303): ("GET", False),
                 ("GET", 303): ("GET", False), ("PATCH", 308): ("PATCH", True)}
        for (method, status), (after, kept) in cases.items():
            r = mrequests.request(method, hb_redirect("/anything", status), data=b"a=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
            doc = r.json()
            what = "%s %d" % (method, status)
            self.assertEqual((r.status_code, doc["method"]), (200, after), what)
            self.assertEqual(r.url, HB.base + "/anything", what)
            if kept:
                self.assertEqual(doc["form"], {"a": "1"}, what)
            else:
                self.assertEqual((doc["data"], doc["form"]), ("", {}), what)
                self.assertNotIn("Content-Type", doc["headers"], what)
                self.assertNotIn("Content-Length", doc["headers"], what)

    def test_head_stays_head(self):
        echo_url = redirect_to(WIRE, WIRE.url("/after"), 303)
        r = mrequests.head(echo_url)
        self.assertEqual((r.status_code, r.url, r.content), (200, WIRE.url("/after"), b""))

    def test_location_is_joined_as_rfc3986_says(self):
        base = "/a/b/c/redirect"
        cases = [("../d", "/a/b/d"), ("./e", "/a/b/c/e"), ("g", "/a/b/c/g"), ("../../../../up", "/up"),
                 ("/abs/./x/../y", "/abs/y"), ("?q=1", base + "?q=1"), ("g#frag", "/a/b/c/g"),
                 ("g?x=%2F", "/a/b/c/g?x=%2F"), (".", "/a/b/c/"), ("..", "/a/b/")]
        for location, target in cases:
            r = mrequests.get(redirect_to(WIRE, location, base=base))
            self.assertEqual(r.json()["target"], target, location)
            self.assertEqual(r.url, WIRE.url(target), location)
        other = "//127.0.0.1:%d/x/../other" % WIRE2.port
        r = mrequests.get(redirect_to(WIRE, other, base=base))
        self.assertEqual((r.url, r.json()["target"]), (WIRE2.url("/other"), "/other"))
        r = mrequests.get(redirect_to(WIRE, WIRE2.url("/abs?k=v"), 308, base=base))
        self.assertEqual((r.url, r.json()["target"]), (WIRE2.url("/abs?k=v"), "/abs?k=v"))
        r = mrequests.get(redirect_to(WIRE, "HTTP://127.0.0.1:%d/caps" % WIRE2.port))
        self.assertEqual(r.json()["target"], "/caps")
        r = mrequests.get(redirect_to(WIRE, "/sp ace/\u00e9"))
        self.assertEqual(r.json()["target"], "/sp%20ace/%C3%A9")

    def test_max_redirects(self):
        r = mrequests.get(HB.base + "/redirect/3", max_redirects=3)
        self.assertEqual((r.status_code, r.url), (200, HB.base + "/get"))
        with self.assertRaises(RedirectError):
            mrequests.get(HB.base + "/redirect/3", max_redirects=2)
        self.assertEqual(mrequests.get(HB.base + "/redirect/1").status_code, 200)
        with self.assertRaises(RedirectError):
            mrequests.get(HB.base + "/redirect/2")  # the default, 1, as upstream
        with self.assertRaises(RedirectError):
            mrequests.get(HB.base + "/redirect/1", max_redirects=0)

    def test_a_loop_is_an_error(self):
        with self.assertRaises(RedirectError) as cm:
            mrequests.get(H + "/loop", max_redirects=5)
        self.assertIn("loop", str(cm.exception))

    def test_redirect_without_location_is_returned(self):
        r = raw("found-no-location")
        self.assertEqual((r.status_code, r.content), (302, b"moved"))
        with self.assertRaises(ProtocolError):
            raw("two-locations")

    def test_authorization_stays_on_the_origin(self):
        # same origin: kept (httpbin's /anything echoes it)
        doc = mrequests.get(hb_redirect("/anything", 302), auth=("u", "p")).json()
        self.assertEqual(doc["headers"].get("Authorization"), "Basic dTpw")
        doc = mrequests.get(hb_redirect("/anything", 307), headers={"Authorization": "Bearer t"}).json()
        self.assertEqual(doc["headers"].get("Authorization"), "Bearer t")
        # another port, another host name (localhost is 127.0.0.1, but not the same origin)
        for target in (WIRE.url("/echo"), "http://localhost:%d/anything" % HB.port):
            for kw in ({"auth": ("u", "p")}, {"headers": {"Authorization": "Bearer t", "Cookie": "s=1"}}):
                doc = mrequests.get(hb_redirect(target, 302), **kw).json()
                if "headers" in doc and isinstance(doc["headers"], dict):
                    names = [n.lower() for n in doc["headers"]]
                else:
                    names = [n.lower() for n, _ in doc["headers"]]
                self.assertNotIn("authorization", names, (target, kw))
                self.assertNotIn("cookie", names, (target, kw))
                self.assertIn("host", names)

    def test_cross_origin_redirect_sends_the_new_host(self):
        echo = mrequests.get(redirect_to(WIRE, WIRE2.url("/h")), headers={"Host": "mine.test"}).json()
        self.assertEqual(wire.header(echo, "host"), ["127.0.0.1:%d" % WIRE2.port])


class Timeouts(Case):

    def test_a_server_that_never_answers_times_out(self):
        start = time.monotonic()
        with self.assertRaises(OSError):
            mrequests.get(WIRE.url("/stall-head"), timeout=1)
        self.assertLess(time.monotonic() - start, 10)

    def test_a_stalled_body_times_out_and_stays_broken(self):
        r = mrequests.get(H + "/stall", timeout=1)  # 10 of 100 bytes, then silence
        start = time.monotonic()
        with self.assertRaises(OSError):
            r.content
        self.assertLess(time.monotonic() - start, 10)
        with self.assertRaises(TruncatedError):
            r.read()


class UrlJoin(Case):
    """RFC 3986 section 5.4's examples (the RFC is the reference; urllib differs on some)."""
    BASE = "http://a/b/c/d;p?q"
    NORMAL = {"g:h": "g:h", "g": "http://a/b/c/g", "./g": "http://a/b/c/g", "g/": "http://a/b/c/g/",
              "/g": "http://a/g", "//g": "http://g", "?y": "http://a/b/c/d;p?y",
              "g?y": "http://a/b/c/g?y", "#s": "http://a/b/c/d;p?q", "g#s": "http://a/b/c/g",
              "g?y#s": "http://a/b/c/g?y", ";x": "http://a/b/c/;x", "g;x": "http://a/b/c/g;x",
              "g;x?y#s": "http://a/b/c/g;x?y", "": "http://a/b/c/d;p?q", ".": "http://a/b/c/",
              "./": "http://a/b/c/", "..": "http://a/b/", "../": "http://a/b/", "../g": "http://a/b/g",
              "../..": "http://a/", "../../": "http://a/", "../../g": "http://a/g"}
    ABNORMAL = {"../../../g": "http://a/g", "../../../../g": "http://a/g", "/./g": "http://a/g",
                "/../g": "http://a/g", "g.": "http://a/b/c/g.", ".g": "http://a/b/c/.g",
                "g..": "http://a/b/c/g..", "..g": "http://a/b/c/..g", "./../g": "http://a/b/g",
                "./g/.": "http://a/b/c/g/", "g/./h": "http://a/b/c/g/h", "g/../h": "http://a/b/c/h",
                "g;x=1/./y": "http://a/b/c/g;x=1/y", "g;x=1/../y": "http://a/b/c/y",
                "g?y/./x": "http://a/b/c/g?y/./x", "g?y/../x": "http://a/b/c/g?y/../x",
                "g#s/./x": "http://a/b/c/g", "g#s/../x": "http://a/b/c/g", "http:g": "http:g"}

    def test_rfc3986_examples(self):
        for ref, want in list(self.NORMAL.items()) + list(self.ABNORMAL.items()):
            self.assertEqual(mrequests.urljoin(self.BASE, ref), want, ref)

    def test_authority_without_path(self):
        self.assertEqual(mrequests.urljoin("http://h:81", "x"), "http://h:81/x")
        self.assertEqual(mrequests.urljoin("http://h/p?q", "?"), "http://h/p?")


class TLS(Case):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        cls.certs = wire.make_certificates(cls.work)
        cls.good = wire.WireServer(wire.server_context(cls.certs["good"]))
        cls.wrongname = wire.WireServer(wire.server_context(cls.certs["wrongname"]))

    @classmethod
    def tearDownClass(cls):
        cls.good.close()
        cls.wrongname.close()
        shutil.rmtree(cls.work)

    def setUp(self):
        super().setUp()
        self.addCleanup(setattr, mrequests, "CONFIG", mrequests.CONFIG)
        self.addCleanup(setattr, mrequests, "_tls_cache", None)
        mrequests._tls_cache = None

    def configure(self, *ders):
        d = tempfile.mkdtemp(dir=self.work)
        with open(os.path.join(d, "mreq_ca.der"), "wb") as f:
            f.write(b"".join(ders))
        with open(os.path.join(d, "mreq_config.json"), "w") as f:
            json.dump({"wifi": {"ssid": "s", "password": "p"}, "ntp": "pool.ntp.org",
                       "cacert": "mreq_ca.der"}, f)
        mrequests.CONFIG = os.path.join(d, "mreq_config.json")
        mrequests._tls_cache = None

    def test_verified_with_the_configured_ca(self):
        self.configure(self.certs["other_der"], self.certs["ca_der"])  # concatenated DER
        r = mrequests.get(self.good.url("/secure"))
        self.assertEqual((r.status_code, r.json()["target"]), (200, "/secure"))
        r = mrequests.get("https://localhost:%d/by-name" % self.good.port)
        self.assertEqual(r.json()["target"], "/by-name")

    def test_an_unknown_ca_is_refused(self):
        self.configure(self.certs["other_der"])
        with self.assertRaises(ssl.SSLError):
            mrequests.get(self.good.url("/secure"))

    def test_without_a_configured_ca_cpython_uses_the_system_store(self):
        mrequests.CONFIG = os.path.join(self.work, "none.json")
        with self.assertRaises(ssl.SSLCertVerificationError):
            mrequests.get(self.good.url("/secure"))

    def test_a_wrong_host_name_is_refused(self):
        self.configure(self.certs["ca_der"])
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            mrequests.get(self.wrongname.url("/secure"))
        self.assertIn("127.0.0.1", str(cm.exception))

    def test_an_explicit_ssl_context_is_used(self):
        mrequests.CONFIG = os.path.join(self.work, "none.json")
        ctx = ssl.create_default_context(cadata=self.certs["ca_pem"])
        self.assertEqual(mrequests.get(self.good.url("/x"), ssl_context=ctx).status_code, 200)

    def test_https_to_http_redirect_is_refused(self):
        self.configure(self.certs["ca_der"])
        before = WIRE.connections
        with self.assertRaises(RedirectError):
            mrequests.get(redirect_to(self.good, WIRE.url("/plain")))
        self.assertEqual(WIRE.connections, before)
        # http to https is fine
        r = mrequests.get(redirect_to(WIRE, self.good.url("/up")))
        self.assertEqual((r.url, r.json()["target"]), (self.good.url("/up"), "/up"))

    def test_a_port_that_cannot_verify_refuses_https(self):
        old_ussl = types.SimpleNamespace(wrap_socket=lambda sock, **kw: sock)  # MicroPython < 1.22
        self.configure(self.certs["ca_der"])
        before = self.good.connections
        with mock.patch.object(mrequests, "SYSTEM_CA", False), \
                mock.patch.object(mrequests, "_ssl_module", lambda: old_ussl):
            with self.assertRaises(TLSError) as cm:
                mrequests.get(self.good.url("/x"))
            self.assertIn("ssl_context", str(cm.exception))
            self.assertEqual(self.good.connections, before)
            ctx = ssl.create_default_context(cadata=self.certs["ca_pem"])
            self.assertEqual(mrequests.get(self.good.url("/x"), ssl_context=ctx).status_code, 200)

    def test_micropython_ssl_context_gets_the_ca(self):
        # MicroPython >= 1.22's ssl API, carried out by CPython's ssl underneath
        loaded = []

        class Context:
            def __init__(self, protocol):
                self.real = ssl.SSLContext(protocol)

            def __setattr__(self, name, value):
                if name == "verify_mode":
                    loaded.append(("verify_mode", value))
                    self.real.verify_mode = value
                else:
                    object.__setattr__(self, name, value)

            def load_verify_locations(self, cadata):
                loaded.append(("cadata", cadata[:4]))
                self.real.load_verify_locations(cadata=cadata)

            def wrap_socket(self, sock, server_hostname=None):
                return self.real.wrap_socket(sock, server_hostname=server_hostname)

        mp_ssl = types.SimpleNamespace(SSLContext=Context, PROTOCOL_TLS_CLIENT=ssl.PROTOCOL_TLS_CLIENT,
                                       CERT_REQUIRED=ssl.CERT_REQUIRED)
        with mock.patch.object(mrequests, "SYSTEM_CA", False), \
                mock.patch.object(mrequests, "_ssl_module", lambda: mp_ssl):
            mrequests.CONFIG = os.path.join(self.work, "none.json")
            with self.assertRaises(TLSError):  # no CA and no system store: refused
                mrequests.get(self.good.url("/x"))
            self.configure(self.certs["other_der"], self.certs["ca_der"])
            self.assertEqual(mrequests.get(self.good.url("/x")).status_code, 200)
            self.assertEqual([k for k, _ in loaded], ["verify_mode", "cadata", "cadata"])
            self.assertEqual(loaded[0][1], ssl.CERT_REQUIRED)
            with self.assertRaises(ssl.SSLCertVerificationError):
                mrequests.get(self.wrongname.url("/x"))


class Config(Case):

    def test_load_config(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        path = os.path.join(d, "mreq_config.json")
        self.assertIsNone(mrequests.load_config(path))
        doc = {"wifi": {"ssid": "home", "password": "pw"}, "ntp": "pool.ntp.org", "cacert": "mreq_ca.der"}
        with open(path, "w") as f:
            json.dump(doc, f)
        self.assertEqual(mrequests.load_config(path), doc)
        with open(path, "w") as f:
            f.write("[1]")
        with self.assertRaises(ValueError):
            mrequests.load_config(path)
        with open(path, "w") as f:
            f.write("{broken")
        with self.assertRaises(ValueError):
            mrequests.load_config(path)

    def test_der_splitting(self):
        short, long_ = b"\x30\x03abc", b"\x30\x82\x01\x00" + b"x" * 256
        self.assertEqual(mrequests._split_der(short + long_, "f"), [short, long_])
        for bad in (b"\x31\x01a", b"\x30\x05abc", b"-----BEGIN CERTIFICATE-----"):
            with self.assertRaises(ValueError):
                mrequests._split_der(bad, "f")


if __name__ == "__main__":
    unittest.main()
