"""mreq_wifi under CPython, with stand-ins for MicroPython's network, time and ntptime."""
import json
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

import mreq_wifi


class Board:
    """network, time and ntptime as a MicroPython board has them; `joins_after` polls."""

    def __init__(self, joins_after=2, ntp_fails=False):
        self.calls, self.polls, self.joins_after, self.now = [], 0, joins_after, 0
        board = self

        class WLAN:
            def __init__(self, which):
                board.calls.append(("WLAN", which))

            def active(self, on):
                board.calls.append(("active", on))

            def isconnected(self):
                board.polls += 1
                return board.joins_after is not None and board.polls > board.joins_after

            def connect(self, ssid, password):
                board.calls.append(("connect", ssid, password))

            def ifconfig(self):
                return ("192.0.2.7", "255.255.255.0", "192.0.2.1", "192.0.2.1")

        def settime():
            board.calls.append(("settime", ntp.host))
            if ntp_fails:
                raise OSError(110)

        def sleep_ms(ms):
            board.now += ms

        ntp = types.SimpleNamespace(host=None, settime=settime)
        self.modules = {
            "network": types.SimpleNamespace(WLAN=WLAN, STA_IF=0),
            "time": types.SimpleNamespace(ticks_ms=lambda: board.now, sleep_ms=sleep_ms,
                                          ticks_diff=lambda a, b: a - b),
            "ntptime": ntp,
        }


class Connect(unittest.TestCase):

    def config(self, doc):
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        self.addCleanup(os.remove, path)
        return path

    def run_on(self, board, path, **kw):
        with mock.patch.dict(sys.modules, board.modules):
            return mreq_wifi.connect(path, **kw)

    def test_joins_the_configured_network_and_sets_the_clock(self):
        board = Board()
        path = self.config({"wifi": {"ssid": "home", "password": "secret12"}, "ntp": "pool.ntp.org"})
        self.assertEqual(self.run_on(board, path)[0], "192.0.2.7")
        self.assertIn(("connect", "home", "secret12"), board.calls)
        self.assertIn(("settime", "pool.ntp.org"), board.calls)

    def test_a_network_that_does_not_answer_ends_in_time(self):
        board = Board(joins_after=None)
        path = self.config({"wifi": {"ssid": "away"}})
        self.assertIsNone(self.run_on(board, path, timeout=3))
        self.assertLessEqual(board.now, 3400)
        self.assertIn(("connect", "away", ""), board.calls)

    def test_no_file_or_no_network_does_nothing(self):
        board = Board()
        self.assertIsNone(self.run_on(board, "/nonexistent/mreq_config.json"))
        self.assertIsNone(self.run_on(board, self.config({"ntp": "x"})))
        self.assertEqual(board.calls, [])

    def test_a_failed_clock_still_leaves_the_network_up(self):
        board = Board(ntp_fails=True)
        path = self.config({"wifi": {"ssid": "home", "password": "secret12"}, "ntp": "t"})
        self.assertIsNotNone(self.run_on(board, path))

    def test_already_joined_is_not_joined_again(self):
        board = Board(joins_after=0)
        path = self.config({"wifi": {"ssid": "home", "password": "secret12"}})
        self.assertIsNotNone(self.run_on(board, path))
        self.assertNotIn("connect", [c[0] for c in board.calls])


if __name__ == "__main__":
    unittest.main()
