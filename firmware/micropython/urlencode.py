# URL helpers with CPython's urllib.parse semantics, small enough for a micro:bit.
# quote, quote_plus, quote_from_bytes, unquote, unquote_plus, urlencode, parse_qsl, parse_qs.

_HEX = '0123456789ABCDEF'


def _enc(s):
    # bytes(s, 'utf-8'): the micro:bit's str has no encode()
    return bytes(s, 'utf-8')


def _dec(b, encoding, errors):
    try:
        return b.decode(encoding, errors)
    except AttributeError:
        return str(b, encoding)


def _always_safe(b):
    # RFC 3986 unreserved: letters, digits and _.-~
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in (45, 46, 95, 126)


def quote_from_bytes(bs, safe='/'):
    if isinstance(safe, str):
        safe = _enc(safe)
    out = []
    for b in bs:
        if _always_safe(b) or b in safe:
            out.append(chr(b))
        else:
            out.append('%' + _HEX[b >> 4] + _HEX[b & 15])
    return ''.join(out)


def quote(s, safe='/'):
    if isinstance(s, str):
        if not s:
            return s
        s = _enc(s)
    return quote_from_bytes(s, safe)


def quote_plus(s, safe=''):
    if isinstance(s, str):
        if ' ' not in s:
            return quote(s, safe)
        space = ' '
    else:
        if b' ' not in s:
            return quote(s, safe)
        space = b' '
    if isinstance(safe, str):
        safe = safe + ' '
    else:
        safe = safe + b' '
    return quote(s, safe).replace(' ', '+')


def _hexval(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


def unquote_to_bytes(s):
    if isinstance(s, str):
        s = _enc(s)
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == 37 and i + 2 < n:
            hi, lo = _hexval(s[i + 1]), _hexval(s[i + 2])
            if hi >= 0 and lo >= 0:
                out.append(hi * 16 + lo)
                i += 3
                continue
        out.append(c)
        i += 1
    return bytes(out)


def unquote(s, encoding='utf-8', errors='replace'):
    if isinstance(s, bytes):
        return _dec(unquote_to_bytes(s), encoding, errors)
    if '%' not in s:
        return s
    return _dec(unquote_to_bytes(s), encoding, errors)


def unquote_plus(s, encoding='utf-8', errors='replace'):
    return unquote(s.replace('+', ' '), encoding, errors)


def _text(v):
    if isinstance(v, (str, bytes)):
        return v
    return str(v)


def urlencode(query, doseq=False, safe=''):
    if hasattr(query, 'items'):
        query = query.items()
    parts = []
    for k, v in query:
        k = quote_plus(_text(k), safe)
        if doseq and not isinstance(v, (str, bytes)):
            try:
                items = iter(v)
            except TypeError:
                parts.append(k + '=' + quote_plus(_text(v), safe))
                continue
            for e in items:
                parts.append(k + '=' + quote_plus(_text(e), safe))
        else:
            parts.append(k + '=' + quote_plus(_text(v), safe))
    return '&'.join(parts)


def parse_qsl(qs, keep_blank_values=False, strict_parsing=False,
              encoding='utf-8', errors='replace', max_num_fields=None, separator='&'):
    if not separator or not isinstance(separator, (str, bytes)):
        raise ValueError('Separator must be of type string or bytes.')
    if isinstance(qs, bytes):
        qs = _dec(qs, 'ascii', 'strict')
        if isinstance(separator, bytes):
            separator = _dec(separator, 'ascii', 'strict')
    if max_num_fields is not None and 1 + qs.count(separator) > max_num_fields:
        raise ValueError('Max number of fields exceeded')
    r = []
    for field in qs.split(separator):
        if not field and not strict_parsing:
            continue
        i = field.find('=')
        if i < 0:
            if strict_parsing:
                raise ValueError('bad query field: %r' % (field,))
            name, value = field, ''
            if not keep_blank_values:
                continue
        else:
            name, value = field[:i], field[i + 1:]
        if value or keep_blank_values:
            r.append((unquote_plus(name, encoding, errors), unquote_plus(value, encoding, errors)))
    return r


def parse_qs(qs, keep_blank_values=False, strict_parsing=False,
             encoding='utf-8', errors='replace', max_num_fields=None, separator='&'):
    d = {}
    for k, v in parse_qsl(qs, keep_blank_values, strict_parsing, encoding, errors,
                          max_num_fields, separator):
        if k in d:
            d[k].append(v)
        else:
            d[k] = [v]
    return d
