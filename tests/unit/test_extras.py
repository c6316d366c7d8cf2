"""The runtime package runs without its extras: `carekey --help` and the serving code import no benchmark,
plotting or demo dependency, and `carekey bench` / `carekey demo` name the extra to install when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

EXTRAS = ("matplotlib", "reedsolo", "faker", "ray")

PROLOGUE = f"""
import sys
for name in {EXTRAS!r}:
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from typer.testing import CliRunner
from carekey.interfaces.cli.main import app
runner = CliRunner()
"""


def run(body: str) -> subprocess.CompletedProcess[str]:
    code = PROLOGUE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_cli_and_server_load_without_the_extras():
    done = run("""
        assert runner.invoke(app, ["--help"]).exit_code == 0
        import carekey.bootstrap, carekey.interfaces.api.app  # what `carekey serve` loads
        extras = ("matplotlib", "reedsolo", "faker", "ray")
        loaded = [m for m in sys.modules if m.split(".")[0] in extras and sys.modules[m]]
        assert not loaded, loaded
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_every_runtime_module_imports_without_the_extras():
    """Research prototypes (the fuzzy commitment, reedsolo) and plots live in ``carekey.bench`` only: every other
    module of the package, whatever ``serve`` ends up loading, imports with the extras absent."""
    done = run("""
        import importlib, pkgutil
        import carekey
        skipped, failed, seen = ("carekey.bench", "carekey.storage.migrations"), [], 0
        for m in pkgutil.walk_packages(carekey.__path__, "carekey."):
            if m.name.startswith(skipped) or m.name.endswith("__main__"):
                continue
            seen += 1
            try:
                importlib.import_module(m.name)
            except ImportError as e:
                failed.append((m.name, str(e)))
        assert seen > 100 and not failed, (seen, failed)
        loaded = [m for m in sys.modules if m.split(".")[0] in ("matplotlib", "reedsolo", "faker") and sys.modules[m]]
        assert not loaded, loaded
        assert "carekey.bench.fuzzy_commitment" not in sys.modules
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_bench_and_demo_name_their_missing_extra(tmp_path):
    done = run(f"""
        r = runner.invoke(app, ["bench", "log", "--entries", "10"])
        assert r.exit_code == 2, r.output
        assert "pip install 'carekey[bench]'" in r.output, r.output
        r = runner.invoke(app, ["demo", "--data", {str(tmp_path / "demo")!r}])
        assert r.exit_code == 3, r.output
        assert "pip install 'carekey[demo]'" in r.output, r.output
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
