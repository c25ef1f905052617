"""PyFlink's cluster Python worker replaces builtins.print; the compiled kernels must still import."""

import subprocess
import sys

SCRIPT = """
import builtins, sys, types
mod = types.ModuleType("fake_worker_main")
sys.modules["fake_worker_main"] = mod
class CustomPrint:
    def __init__(self, p):
        self._p = p
    def print(self, *a, **k):
        self._p(*a, **k)
CustomPrint.print.__module__ = "fake_worker_main"
builtins.print = CustomPrint(print).print
{imports}
print("imported")
"""


def run(imports: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(imports=imports)], capture_output=True, text=True
    )


def test_bare_numba_import_fails_under_the_workers_print():
    r = run("import numba.core.typing.builtins")
    assert r.returncode != 0 and "has no attribute 'print'" in r.stderr


def test_kernels_import_under_the_workers_print():
    r = run("import detector.kernels\nimport detector.model")
    assert r.returncode == 0, r.stderr
    assert "imported" in r.stdout
