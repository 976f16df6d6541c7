"""mrequests against the conformance corpus (conformance/*.json), which core/tests/conformance.rs
holds mreq-core to as well: the same responses, redirect targets and method rules, the same
answers. Run with the module's other tests."""
import unittest

import mrequests

from . import wire

WIRE = None


def setUpModule():
    global WIRE
    mrequests.CONFIG = "/nonexistent/mreq_config.json"
    WIRE = wire.WireServer()


def tearDownModule():
    WIRE.close()


class Responses(unittest.TestCase):

    def test_every_case_has_its_outcome(self):
        doc = wire.corpus("responses.json")
        for case in doc["cases"]:
            with self.subTest(case["name"]):
                try:
                    r = mrequests.get(WIRE.url("/raw/" + case["name"]))
                    got = (r.status_code, r.content)
                    r.close()
                except mrequests.ProtocolError as e:
                    got = type(e).__name__
                if "error" in case:
                    want = doc["python_errors"][case["error"]]
                else:
                    want = (case["status"], wire.corpus_bytes(case["body"]))
                self.assertEqual(got, want, case.get("note", ""))

    def test_every_error_kind_has_an_exception_class(self):
        doc = wire.corpus("responses.json")
        for case in doc["cases"]:
            if "error" in case:
                self.assertTrue(issubclass(getattr(mrequests, doc["python_errors"][case["error"]]),
                                           mrequests.ProtocolError), case["name"])


class Redirects(unittest.TestCase):

    def test_every_target_is_the_corpus_one(self):
        for case in wire.corpus("redirects.json")["targets"]:
            with self.subTest(base=case["base"], location=case["location"]):
                # as request() follows a Location: the field's bytes, joined, split, written out
                location = mrequests._location(case["location"].encode("latin-1"))
                try:
                    got = mrequests._unsplit(mrequests._split_url(
                        mrequests.urljoin(case["base"], location)))
                except ValueError:
                    got = None
                self.assertEqual(got, case.get("request"), case.get("error", ""))

    def test_every_method_rule_is_the_corpus_one(self):
        for case in wire.corpus("redirects.json")["methods"]:
            self.assertEqual(mrequests._next_method(case["status"], case["method"]),
                             (case["next"], case["body_kept"]), case)


if __name__ == "__main__":
    unittest.main()
