# mrequests: an HTTP/1.1 client for MicroPython (and CPython) with the API of upstream
# mrequests (SpotlightKid/mrequests) and strict rules: a body is complete or an error, redirects
# are joined as RFC 3986 says, https is verified. Part of mreq; README.md beside this file lists
# every difference from upstream.
# Only modules MicroPython ports build in; no f-strings, nothing newer than MicroPython 1.19;
# no multi-line strings (mreq-flash strips comment lines when it installs the file).

import sys

try:
    import socket
except ImportError:
    import usocket as socket

MICROPY = sys.implementation.name == "micropython"
# CPython has a system CA store to fall back on; MicroPython ports have none.
SYSTEM_CA = not MICROPY
USER_AGENT = b"mreq-micropython/0.1"
# The installer's configuration file (mreq-flash micropython writes it to the board's root).
CONFIG = "mreq_config.json"
READ_SIZE = 1024  # piece size of save() and of reads to EOF: small, for small heaps
MAX_LINE = 4096  # longest status, header or chunk-size line accepted
MAX_FIELDS = 100  # most header (or trailer) fields accepted in one response
MAX_INTERIM = 8  # most 1xx responses skipped before the final one
REDIRECTS = (301, 302, 303, 307, 308)

# How a response body ends (RFC 9112 section 6.3).
_DONE, _LENGTH, _CHUNKED, _CLOSE = 0, 1, 2, 3


class ProtocolError(ValueError):
    # The response breaks HTTP/1.1: framing, lengths, syntax.
    pass


class TruncatedError(ProtocolError):
    # The connection ended before the response did.
    pass


class RedirectError(ValueError):
    # A redirect that is not followed: https to http, a loop, more than max_redirects.
    pass


class TLSError(ValueError):
    # https cannot be verified here (no CA, or a port whose ssl module cannot verify).
    pass


def _json():
    try:
        import json
    except ImportError:
        import ujson as json
    return json


def _b(x):
    # Header names and values as bytes; str is sent as UTF-8.
    if isinstance(x, bytes):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    return bytes(x if isinstance(x, str) else str(x), "utf-8")


def _is_token(b):
    # RFC 9110 token (method, header name): visible ASCII without delimiters.
    for c in b:
        if c < 33 or c > 126 or chr(c) in '"(),/:;<=>?@[\\]{}':
            return False
    return len(b) > 0


def _is_digits(s):
    for c in s:
        if not "0" <= c <= "9":
            return False
    return len(s) > 0


def _latin1(b):
    # Header bytes as str, each byte one character (MicroPython has no latin-1 codec).
    return "".join([chr(c) for c in b])


# ---- configuration and TLS ----

def load_config(path="mreq_config.json"):
    # The configuration the installer wrote, as a dict; None when there is no such file.
    try:
        f = open(path, "rb")
    except OSError as e:
        if e.args and e.args[0] == 2:  # ENOENT
            return None
        raise
    try:
        cfg = _json().loads(f.read())
    finally:
        f.close()
    if not isinstance(cfg, dict):
        raise ValueError("%s: not a JSON object" % path)
    return cfg


def _split_der(data, name):
    # Concatenated DER certificates, one by one: MicroPython's load_verify_locations hands
    # DER to mbedtls, which parses one certificate per call.
    certs = []
    i = 0
    while i < len(data):
        if i + 2 > len(data) or data[i] != 0x30:
            raise ValueError("%s: not DER certificates" % name)
        n, head = data[i + 1], 2
        if n & 0x80:
            k = n & 0x7F
            if not 1 <= k <= 3:
                raise ValueError("%s: not DER certificates" % name)
            n = 0
            for c in data[i + 2:i + 2 + k]:
                n = n * 256 + c
            head += k
        if i + head + n > len(data):
            raise ValueError("%s: a certificate is cut short" % name)
        certs.append(data[i:i + head + n])
        i += head + n
    return certs


def _ca_certs(path):
    # The DER certificates the configuration names ("cacert", beside the configuration file).
    cfg = load_config(path)
    name = cfg.get("cacert") if cfg else None
    if not name:
        return []
    if name[0] != "/" and "/" in path:
        name = path[:path.rfind("/") + 1] + name
    with open(name, "rb") as f:
        return _split_der(f.read(), name)


def _ssl_module():
    try:
        import ssl
    except ImportError:
        try:
            import ussl as ssl
        except ImportError:
            raise TLSError("https: this port has no ssl module")
    return ssl


_tls_cache = None  # (configuration path, context): loading the CA costs RAM and time


def default_ssl_context():
    # The context https uses without ssl_context=: the configured CA (or, on CPython without
    # one, the system store), CERT_REQUIRED, host names checked through server_hostname.
    global _tls_cache
    if _tls_cache and _tls_cache[0] == CONFIG:
        return _tls_cache[1]
    ssl = _ssl_module()
    certs = _ca_certs(CONFIG)
    if SYSTEM_CA and not certs:
        ctx = ssl.create_default_context()
    else:
        if not (hasattr(ssl, "SSLContext") and hasattr(ssl, "CERT_REQUIRED")
                and hasattr(ssl, "PROTOCOL_TLS_CLIENT")):
            raise TLSError("https: this port's ssl module cannot verify certificates "
                           "(MicroPython >= 1.22 can); pass ssl_context= to connect anyway")
        if not certs:
            raise TLSError("https: no CA certificate to verify the server with: set "
                           "\"cacert\" in %s (mreq-flash --cacert) or pass ssl_context=" % CONFIG)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        for cert in certs:
            ctx.load_verify_locations(cadata=cert)
    _tls_cache = (CONFIG, ctx)
    return ctx


# ---- URLs ----

def _check_url(url):
    # The target goes on the wire as it is: refuse what would break the request line.
    for c in url:
        if c <= " " or c >= "\x7f":
            raise ValueError("URL %r: percent-encode spaces, control and non-ASCII characters "
                             "(urlencode.quote)" % url)


def _split_url(url):
    # (scheme, host, port, target) of an absolute http(s) URL; the fragment is dropped.
    _check_url(url)
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in ("http", "https"):
        raise ValueError("An absolute http:// or https:// URL is required, not %r" % url)
    rest = url[i + 3:]
    end = _find_any(rest, "/?#", 0)
    host, target = rest[:end], rest[end:]
    if "#" in target:
        target = target[:target.find("#")]
    if not target.startswith("/"):
        target = "/" + target
    if "@" in host:
        raise ValueError("credentials in the URL are not supported: pass auth=(user, password)")
    port = 443 if scheme == "https" else 80
    i = host.rfind(":")
    if i > host.rfind("]"):
        digits, host = host[i + 1:], host[:i]
        if digits:
            if not _is_digits(digits) or not 0 < int(digits) < 65536:
                raise ValueError("bad port in %r" % url)
            port = int(digits)
    if not host or (host[0] == "[") != (host[-1] == "]"):
        raise ValueError("no host in %r" % url)
    return scheme, host.lower(), port, target


def _host_port(url):
    # The Host header's value: the port only when it is not the scheme's default.
    scheme, host, port, target = url
    if port == (443 if scheme == "https" else 80):
        return host
    return "%s:%d" % (host, port)


def _unsplit(url):
    return "%s://%s%s" % (url[0], _host_port(url), url[3])


def _find_any(s, chars, start):
    # The first index at or after start of any of chars, or len(s).
    end = len(s)
    for c in chars:
        i = s.find(c, start)
        if 0 <= i < end:
            end = i
    return end


def _is_scheme(s):
    for i in range(len(s)):
        c = s[i]
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or (i and ("0" <= c <= "9" or c in "+-."))):
            return False
    return len(s) > 0


def _parse_ref(ref):
    # RFC 3986 section 3: (scheme, authority, path, query), None where absent; no fragment.
    if "#" in ref:
        ref = ref[:ref.find("#")]
    scheme = auth = query = None
    i = ref.find(":")
    if i > 0 and _is_scheme(ref[:i]):
        scheme, ref = ref[:i].lower(), ref[i + 1:]
    if ref.startswith("//"):
        i = _find_any(ref, "/?", 2)
        auth, ref = ref[2:i], ref[i:]
    i = ref.find("?")
    if i >= 0:
        ref, query = ref[:i], ref[i + 1:]
    return scheme, auth, ref, query


def _remove_dots(path):
    # RFC 3986 section 5.2.4; out holds the segments kept, each with the "/" before it.
    out = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if out:
                out.pop()
        elif path in (".", ".."):
            path = ""
        else:
            i = path.find("/", 1)
            if i < 0:
                i = len(path)
            out.append(path[:i])
            path = path[i:]
    return "".join(out)


def urljoin(base, ref):
    # RFC 3986 section 5.2: the URL that ref (a Location) means when read against base.
    bs, ba, bp, bq = _parse_ref(base)
    s, a, p, q = _parse_ref(ref)
    if s is not None or a is not None:
        p = _remove_dots(p)
        if s is None:
            s = bs
    else:
        s, a = bs, ba
        if not p:
            p = bp
            if q is None:
                q = bq
        else:
            if p[0] != "/":
                # merge (section 5.2.3): beside the base's last segment
                p = ("/" + p) if ba is not None and not bp else bp[:bp.rfind("/") + 1] + p
            p = _remove_dots(p)
    return s + ":" + ("" if a is None else "//" + a) + p + ("" if q is None else "?" + q)


def _location(value):
    # A Location value as an ASCII URL: bytes that may not stand in one are percent-encoded.
    out = []
    for c in value:
        out.append(chr(c) if 32 < c < 127 else "%%%02X" % c)
    return "".join(out)


# ---- the request ----

def _fields(headers):
    # The caller's headers as a new list of (name, value) bytes pairs: the dict itself is never
    # changed. CR or LF would let a value add header lines (or a request) to what is sent.
    out = []
    for k in headers:
        name, value = _b(k), _b(headers[k])
        if not _is_token(name):
            raise ValueError("header name %r is not a token" % (k,))
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise ValueError("header %r: CR, LF and NUL are not allowed in a value" % (k,))
        out.append((name, value))
    return out


def _find(fields, name):
    for f in fields:
        if f[0].lower() == name:
            return f
    return None


def _drop(fields, names):
    return [f for f in fields if f[0].lower() not in names]


def _basic_auth(auth):
    # auth as upstream: a (user, password) pair, or a callable that returns one.
    try:
        from binascii import b2a_base64
    except ImportError:
        from ubinascii import b2a_base64
    if callable(auth):
        auth = auth()
    user, password = auth
    return b"Basic " + b2a_base64(_b(user) + b":" + _b(password)).strip()


def _body(data, json, encoding):
    # (body bytes or None, Content-Type or None) from request()'s data= or json=.
    if json is not None:
        if data is not None:
            raise ValueError("pass data= or json=, not both")
        ctype = b"application/json"
        if encoding:
            ctype += b"; charset=" + _b(encoding)
        return bytes(_json().dumps(json), encoding or "utf-8"), ctype
    if data is None:
        return None, None
    if isinstance(data, (dict, list, tuple)):
        import urlencode
        return bytes(urlencode.urlencode(data), "ascii"), b"application/x-www-form-urlencoded"
    if isinstance(data, str):
        return bytes(data, encoding or "utf-8"), None
    return data, None


def _head(method, url, fields, body):
    # The request head: Host first, our User-Agent unless the caller has one, Content-Length
    # for a body, and Connection: close (one request per connection).
    out = [_b(method), b" ", _b(url[3]), b" HTTP/1.1\r\n"]
    if _find(fields, b"host") is None:
        out += [b"Host: ", _b(_host_port(url)), b"\r\n"]
    if _find(fields, b"user-agent") is None:
        out += [b"User-Agent: ", USER_AGENT, b"\r\n"]
    for name, value in fields:
        out += [name, b": ", value, b"\r\n"]
    if body is not None:
        out.append(b"Content-Length: %d\r\n" % len(body))
    out.append(b"Connection: close\r\n\r\n")
    return b"".join(out)


def _connect(host, port, timeout):
    # Every address of host in turn (localhost may be ::1 first); timeout covers connecting.
    err = None
    for ai in socket.getaddrinfo(host.strip("[]"), port, 0, socket.SOCK_STREAM):
        sock = socket.socket(ai[0], ai[1], ai[2])
        try:
            sock.settimeout(timeout)
            sock.connect(ai[-1])
            return sock
        except OSError as e:
            sock.close()
            err = e
    raise err or OSError("no address for %s" % host)


def _send(sock, data):
    if MICROPY:
        sock.write(data)
    else:
        sock.sendall(data)


def _close(sf, sock):
    if sf is not None and sf is not sock:
        sf.close()
    if sock is not None:
        sock.close()


# ---- the response head ----

def _line(sf, what):
    # One line without its CRLF (or bare LF, as RFC 9112 section 2.2 allows); None at EOF.
    line = sf.readline(MAX_LINE + 1)
    if not line:
        return None
    if line[-1:] != b"\n":
        if len(line) > MAX_LINE:
            raise ProtocolError("%s line longer than %d bytes" % (what, MAX_LINE))
        raise TruncatedError("connection closed inside a %s line" % what)
    line = line[:-2] if line[-2:] == b"\r\n" else line[:-1]
    if b"\r" in line:
        raise ProtocolError("bare CR in a %s line" % what)
    return line


def _split_field(line, what):
    # (lower-case name, value) of a header or trailer line; obs-fold and "name :" are errors.
    i = line.find(b":")
    if i <= 0 or not _is_token(line[:i]):
        raise ProtocolError("bad %s line %r" % (what, line[:60]))
    return line[:i].lower(), line[i + 1:].strip(b" \t")


def _field_lines(sf, what):
    # The lines of a header or trailer section, checked, up to the empty line.
    lines = []
    while True:
        line = _line(sf, what)
        if line is None:
            raise TruncatedError("connection closed inside the %s section" % what)
        if not line:
            return lines
        if len(lines) >= MAX_FIELDS:
            raise ProtocolError("more than %d %s fields" % (MAX_FIELDS, what))
        _split_field(line, what)
        lines.append(line)


def _status(sf):
    # (status, reason) of an HTTP/1.0 or 1.1 status line.
    line = _line(sf, "status")
    if line is None:
        raise TruncatedError("connection closed before a response")
    code = line[9:12]
    if (line[:7] != b"HTTP/1." or line[7:8] not in (b"0", b"1") or line[8:9] != b" "
            or not _is_digits(_latin1(code)) or not b"1" <= code[:1] <= b"5"
            or line[12:13] not in (b"", b" ")):
        raise ProtocolError("bad status line %r" % line[:60])
    return int(code), line[13:]


def _decimal(value):
    if not _is_digits(_latin1(value)) or len(value) > 15:
        raise ProtocolError("bad Content-Length %r" % value)
    return int(value)


def _hex(value):
    # A chunk size: hex digits only; more than 7 significant ones (256 MiB) is refused.
    value = value.strip(b" \t")
    for c in value:
        if not (48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102):
            raise ProtocolError("bad chunk size %r" % value[:20])
    digits = value.lstrip(b"0")
    if not value or len(digits) > 7:
        raise ProtocolError("bad chunk size %r" % value[:20])
    return int(digits, 16) if digits else 0


def _charset(value):
    # The charset parameter of a Content-Type value, or None.
    for param in value.split(b";")[1:]:
        param = param.strip(b" \t")
        if param[:8].lower() == b"charset=":
            return _latin1(param[8:].strip(b"\"' \t")).lower() or None
    return None


def _read_head(resp, sf, method):
    # Status line and headers of the final response (1xx interim responses are skipped), and
    # how its body is framed (RFC 9112 section 6.3).
    for _ in range(MAX_INTERIM + 1):
        status, reason = _status(sf)
        lines = _field_lines(sf, "header")
        if status >= 200:
            break
        if status == 101:
            raise ProtocolError("101 Switching Protocols, but no upgrade was asked for")
    else:
        raise ProtocolError("more than %d interim (1xx) responses" % MAX_INTERIM)
    resp.status_code, resp.reason = status, reason
    length = codings = location = None
    for line in lines:
        name, value = _split_field(line, "header")
        if name == b"content-length":
            for item in value.split(b","):
                n = _decimal(item.strip(b" \t"))
                if length is not None and n != length:
                    raise ProtocolError("two different Content-Length values")
                length = n
        elif name == b"transfer-encoding":
            codings = (codings or []) + [c.strip(b" \t").lower() for c in value.split(b",")]
        elif name == b"location":
            if location is not None and value != location:
                raise ProtocolError("two different Location values")
            location = value
        elif name == b"content-type":
            resp.encoding = _charset(value) or resp.encoding
        resp.add_header(line)
    if location is not None:
        resp._location = _location(location)
    if method == "HEAD" or status in (204, 304):
        resp._begin(_DONE, 0)
    elif codings is not None:
        # Transfer-Encoding wins over Content-Length; only chunked is decoded here.
        if codings != [b"chunked"]:
            raise ProtocolError("Transfer-Encoding %r: only chunked is supported"
                                % b", ".join(codings))
        resp._begin(_CHUNKED, 0)
    elif length is not None:
        resp._begin(_LENGTH, length)
    else:
        resp._begin(_CLOSE, 0)


# ---- the response ----

class Response:
    def __init__(self, sock, sockfile, save_headers=False):
        self._sock = sock
        self._sf = sockfile
        self._cached = None
        self._mode = _DONE
        self._left = 0  # bytes left of the body (_LENGTH) or of the current chunk (_CHUNKED)
        self._failed = None  # the error every later read raises once the body broke
        self._started = False  # read() or readinto() was used: content would be a tail
        self._location = None
        self.chunked = False
        self.encoding = "utf-8"
        self.headers = {} if save_headers else None
        self.reason = b""
        self.status_code = None
        self.url = None

    def add_header(self, data):
        # Called with each header line of the final response (bytes, without CRLF). Override
        # it to keep headers another way: framing does not depend on it.
        if self.headers is not None:
            name, value = _split_field(data, "header")
            name, value = _latin1(name), _latin1(value)
            old = self.headers.get(name)
            self.headers[name] = value if old is None else old + ", " + value

    def _parse_header(self, data):
        # Upstream's hook, which response classes written for upstream call from add_header():
        # here request() has already taken the framing from the headers.
        pass

    def _begin(self, mode, length):
        self._mode, self._left = mode, length
        self.chunked = mode == _CHUNKED
        if mode == _LENGTH and length == 0 or mode == _DONE:
            self._finish()

    def _finish(self):
        # The body's verified end: nothing more comes on this connection (Connection: close).
        self._mode = _DONE
        _close(self._sf, self._sock)
        self._sf = self._sock = None

    def close(self):
        _close(self._sf, self._sock)
        self._sf = self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _next_chunk(self):
        # Reads a chunk-size line (extensions ignored); at the last chunk, the trailer section.
        line = _line(self._sf, "chunk size")
        if line is None:
            raise TruncatedError("body ended before its last chunk")
        i = line.find(b";")
        size = _hex(line[:i] if i >= 0 else line)
        if size:
            self._left = size
            return True
        _field_lines(self._sf, "trailer")
        self._finish()
        return False

    def _pull(self, n, into=None):
        # Up to n (> 0) bytes of the body, into the memoryview `into` when given (then the
        # count); b"" or 0 only at the body's verified end.
        if self._failed is not None:
            raise self._failed
        if self._mode == _DONE:
            return b"" if into is None else 0
        if self._sf is None:
            raise ValueError("read from a closed response")
        try:
            return self._pull_open(n, into)
        except ProtocolError as e:
            self._failed = e
            self.close()
            raise
        except OSError as e:
            # a timeout or a reset: the body cannot be completed any more
            self._failed = TruncatedError("body incomplete: %r" % (e,))
            self.close()
            raise

    def _pull_open(self, n, into):
        end = b"" if into is None else 0
        if self._mode == _CHUNKED and self._left == 0 and not self._next_chunk():
            return end
        if self._mode != _CLOSE:
            n = min(n, self._left)
        if into is None:
            got = self._sf.read(n) or b""
            count = len(got)
        else:
            got = count = self._sf.readinto(into[:n]) or 0
        if not count:
            if self._mode != _CLOSE:
                raise TruncatedError("body ended %d bytes early" % self._left)
            self._finish()
            return end
        if self._mode != _CLOSE:
            self._left -= count
            if not self._left:
                if self._mode == _LENGTH:
                    self._finish()
                elif _line(self._sf, "chunk"):
                    # (at EOF instead, the next chunk-size read reports the truncation)
                    raise ProtocolError("chunk data not followed by CRLF")
        return got

    def _read_all(self):
        parts = []
        while True:
            data = self._pull(self._left if self._mode != _CLOSE and self._left else READ_SIZE)
            if not data:
                break
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read(self, size=-1):
        # size bytes (fewer only at the body's end); all of the rest for size None or < 0.
        self._started = True
        if size is None or size < 0:
            return self._read_all()
        parts, got = [], 0
        while got < size:
            data = self._pull(size - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buf, size=0):
        # Fills buf (its first size bytes when size is given) with the body; returns how many
        # bytes it holds, 0 at the end.
        self._started = True
        mv = memoryview(buf)
        n = size if 0 < size < len(mv) else len(mv)
        got = 0
        while got < n:
            count = self._pull(n - got, mv[got:n])
            if not count:
                break
            got += count
        return got

    def save(self, fn, buf=None, chunk_size=0):
        with open(fn, "wb") as f:
            return self.saveinto(f, buf, chunk_size)

    def saveinto(self, fobj, buf=None, chunk_size=0):
        # Writes the body to fobj in pieces of at most chunk_size (or READ_SIZE) bytes, through
        # buf when given, each as it arrives; returns the byte count. A broken body raises
        # (what arrived before is written).
        self._started = True
        total = 0
        mv = None if buf is None else memoryview(buf)
        n = chunk_size or (READ_SIZE if mv is None else len(mv))
        if mv is not None and n > len(mv):
            n = len(mv)
        while True:
            if mv is None:
                data = self._pull(n)
                count = len(data)
            else:
                count = self._pull(n, mv)
                data = mv[:count]
            if not count:
                return total
            fobj.write(data)
            total += count

    @property
    def content(self):
        if self._cached is None:
            if self._started and self._failed is None:
                raise ValueError("content: part of the body was already read")
            try:
                self._cached = self._read_all()
            finally:
                self.close()
        return self._cached

    @property
    def text(self):
        return str(self.content, self.encoding)

    def json(self):
        return _json().loads(self.content)


# ---- request() and the method helpers ----

def request(method, url, data=None, json=None, headers={}, auth=None, encoding=None,
            response_class=Response, save_headers=False, max_redirects=1, timeout=None,
            ssl_context=None):
    if not isinstance(method, str) or not _is_token(_b(method)):
        raise ValueError("bad method %r" % (method,))
    fields = _fields(headers)
    if _find(fields, b"transfer-encoding") is not None:
        raise ValueError("Transfer-Encoding: bodies are sent with a Content-Length")
    conn = _find(fields, b"connection")
    conn = conn and conn[1]
    if conn is not None and conn.strip().lower() != b"close":
        raise ValueError("Connection: %r: one request per connection (close)" % (conn,))
    if auth is not None:
        fields = _drop(fields, (b"authorization",)) + [(b"Authorization", _basic_auth(auth))]
    body, ctype = _body(data, json, encoding)
    # The caller's Content-Length is honoured when it is the body's length, else refused
    claimed = _find(fields, b"content-length")
    claimed = claimed and claimed[1]
    if claimed is not None and claimed.strip() != b"%d" % len(body or b""):
        raise ValueError("Content-Length %r: the body has %d bytes" % (claimed, len(body or b"")))
    fields = _drop(fields, (b"content-length", b"connection"))
    if ctype and _find(fields, b"content-type") is None:
        fields.append((b"Content-Type", ctype))
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    target = _split_url(url)
    seen = [(method, _unsplit(target))]
    while True:
        resp = _exchange(method, target, fields, body, timeout, ssl_context, response_class,
                         save_headers)
        resp.url = _unsplit(target)
        if resp.status_code not in REDIRECTS or resp._location is None:
            return resp
        resp.close()
        status = resp.status_code
        try:
            nxt = _split_url(urljoin(resp.url, resp._location))
        except ValueError as e:
            raise RedirectError("Location %r: %s" % (resp._location, e))
        if target[0] == "https" and nxt[0] != "https":
            raise RedirectError("redirect from https to http refused: %s" % _unsplit(nxt))
        method, keep_body = _next_method(status, method)
        if not keep_body:
            body = None
            fields = _drop(fields, (b"content-type",))
        if nxt[:3] != target[:3]:
            # another origin: credentials (and the caller's Host) stay behind, for good
            fields = _drop(fields, (b"authorization", b"proxy-authorization", b"cookie",
                                    b"host"))
        if (method, _unsplit(nxt)) in seen:
            raise RedirectError("redirect loop at %s" % _unsplit(nxt))
        max_redirects -= 1
        if max_redirects < 0:
            raise RedirectError("Maximum redirection count exceeded.")
        seen.append((method, _unsplit(nxt)))
        target = nxt


def _next_method(status, method):
    # (method, body kept) after a redirect: 303 means GET (HEAD stays HEAD); 301 and 302 turn
    # POST into GET, as browsers do
    if status == 303 and method != "HEAD" or status in (301, 302) and method == "POST":
        return "GET", False
    return method, True


def _exchange(method, url, fields, body, timeout, ssl_context, response_class, save_headers):
    # One request on a new connection; returns the response with its head read.
    if url[0] == "https" and ssl_context is None:
        ssl_context = default_ssl_context()  # refuses before connecting where it cannot verify
    sock = _connect(url[1], url[2], timeout)
    sf = None
    try:
        if url[0] == "https":
            sock = ssl_context.wrap_socket(sock, server_hostname=url[1].strip("[]"))
        sf = sock if MICROPY else sock.makefile("rb")
        _send(sock, _head(method, url, fields, body))
        if body:
            _send(sock, body)
        resp = response_class(sock, sf, save_headers=save_headers)
        _read_head(resp, sf, method)
        sock = sf = None  # the response owns the connection now
        return resp
    finally:
        _close(sf, sock)


def head(url, **kw):
    return request("HEAD", url, **kw)


def get(url, **kw):
    return request("GET", url, **kw)


def post(url, **kw):
    return request("POST", url, **kw)


def put(url, **kw):
    return request("PUT", url, **kw)


def patch(url, **kw):
    return request("PATCH", url, **kw)


def delete(url, **kw):
    return request("DELETE", url, **kw)
