# URL helpers with CPython's urllib.parse semantics, small enough for a micro:bit.
# quote, quote_plus, quote_from_bytes, unquote, unquote_plus, urlencode, parse_qsl, parse_qs.
# Runs on MicroPython 1.9.2: no f-strings, no str.encode (bytes(s, enc) instead), no tables.
# The micro:bit compiles it in about 8 KB of RAM: every line of code costs, comments do not
# (mreq-flash strips them).


def quote_from_bytes(bs, safe='/'):
    if not isinstance(bs, (bytes, bytearray)):
        raise TypeError('quote_from_bytes() expected bytes')
    # safe as characters; only bytes below 128 are looked up, so non-ASCII ones never match
    keep = [c if isinstance(c, str) else chr(c) for c in safe]
    out = []
    for b in bs:
        # RFC 3986 unreserved (letters, digits and _.-~), inline: the micro:bit's stack is small
        if ((48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in (45, 46, 95, 126)
                or (b < 128 and chr(b) in keep)):
            out.append(chr(b))
        else:
            out.append('%%%02X' % b)
    return ''.join(out)


def quote(s, safe='/'):
    if isinstance(s, str):
        if not s:
            return s
        # bytes(s, 'utf-8'): the micro:bit's str has no encode()
        s = bytes(s, 'utf-8')
    return quote_from_bytes(s, safe)


def quote_plus(s, safe=''):
    if (isinstance(s, str) and ' ' not in s) or (isinstance(s, bytes) and b' ' not in s):
        return quote(s, safe)
    return quote(s, safe + (' ' if isinstance(safe, str) else b' ')).replace(' ', '+')


def _hexval(c):
    # value of a hex digit given as a byte, or -1
    return '0123456789abcdef'.find(chr(c).lower()) if c < 128 else -1


def unquote_to_bytes(s):
    # as urllib: AttributeError for what is neither str nor bytes
    s.split
    if isinstance(s, str):
        s = bytes(s, 'utf-8')
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == 37 and i + 2 < n and _hexval(s[i + 1]) >= 0 and _hexval(s[i + 2]) >= 0:
            c = _hexval(s[i + 1]) * 16 + _hexval(s[i + 2])
            i += 2
        out.append(c)
        i += 1
    return bytes(out)


def unquote(s, encoding='utf-8', errors='replace'):
    if isinstance(s, bytes):
        return str(unquote_to_bytes(s), encoding, errors)
    if '%' not in s:
        s.split
        return s
    # As urllib: each run of ASCII characters is unquoted and decoded on its own; the other
    # characters are kept as they are.
    out, run = [], ''
    for c in s:
        if ord(c) < 128:
            run += c
        else:
            out.append(str(unquote_to_bytes(run), encoding, errors) + c)
            run = ''
    out.append(str(unquote_to_bytes(run), encoding, errors))
    return ''.join(out)


def unquote_plus(s, encoding='utf-8', errors='replace'):
    return unquote(s.replace('+', ' '), encoding, errors)


def _part(x, safe):
    return quote_plus(x if isinstance(x, bytes) else str(x), safe)


def urlencode(query, doseq=False, safe=''):
    if hasattr(query, 'items'):
        query = query.items()
    else:
        try:
            if len(query) and not isinstance(query[0], tuple):
                raise TypeError
        except TypeError:
            raise TypeError('not a valid non-string sequence or mapping object')
    parts = []
    for k, v in query:
        k = _part(k, safe) + '='
        if doseq and not isinstance(v, (str, bytes)):
            try:
                len(v)
            except TypeError:
                # not a sequence: one value
                v = [v]
            for e in v:
                parts.append(k + _part(e, safe))
        else:
            parts.append(k + _part(v, safe))
    return '&'.join(parts)


def parse_qsl(qs, keep_blank_values=False, strict_parsing=False,
              encoding='utf-8', errors='replace', max_num_fields=None, separator='&'):
    # As urllib: bytes arguments are decoded as ASCII and the results encoded back.
    raw = isinstance(qs, (bytes, bytearray))
    qs = str(qs, 'ascii', 'strict') if qs and raw else qs or ''
    if isinstance(separator, (bytes, bytearray)):
        separator = str(separator, 'ascii', 'strict')
    if not separator or not isinstance(separator, str):
        raise ValueError('Separator must be of type string or bytes.')
    if max_num_fields is not None and max_num_fields < (1 + qs.count(separator) if qs else 0):
        raise ValueError('Max number of fields exceeded')
    r = []
    for field in qs.split(separator) if qs else []:
        if not field and not strict_parsing:
            continue
        nv = field.split('=', 1)
        if len(nv) < 2:
            if strict_parsing:
                raise ValueError('bad query field: %r' % (field,))
            if not keep_blank_values:
                continue
            nv.append('')
        if nv[1] or keep_blank_values:
            nv = [unquote_plus(x, encoding, errors) for x in nv]
            r.append((bytes(nv[0], 'ascii'), bytes(nv[1], 'ascii')) if raw else (nv[0], nv[1]))
    return r


def parse_qs(qs, *args, **kw):
    # the arguments of parse_qsl (keep_blank_values, strict_parsing, ..., separator)
    d = {}
    for k, v in parse_qsl(qs, *args, **kw):
        d.setdefault(k, []).append(v)
    return d
