"""Compiles a small C kernel on first use and loads it with ctypes; None when no compiler is found.

The shared library is cached per source hash, host and CPU feature set under ``$XDG_CACHE_HOME/carekey``
(default ``~/.cache/carekey``), compiled with the system C compiler for the host CPU (-march=native, so AVX-512
VPOPCNTDQ or AVX2 is used where present). The CPU's features are part of the cache key: a virtual machine moved
to another CPU model keeps its host name, and a library built for instructions the new CPU lacks would stop the
process (SIGILL) instead of being rebuilt. Callers keep a numpy fallback for machines without a compiler.
Written by hand: the kernels are a few dozen lines, and cffi / a build step would be heavier.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "carekey"


def _cpu_features() -> bytes:
    """The CPU's feature flags (Linux: the first ``flags`` line of /proc/cpuinfo); empty where not readable."""
    try:
        with open("/proc/cpuinfo", "rb") as info:
            for line in info:
                if line.startswith((b"flags", b"Features")):
                    return line
    except OSError:
        pass
    return b""


def compile_library(source: Path, stem: str) -> ctypes.CDLL | None:
    """The compiled ``source`` (cached as ``<stem>_<hash>.so``), or None without a working compiler."""
    if not source.exists():
        return None
    src = source.read_bytes()
    host = platform.machine().encode() + platform.node().encode() + _cpu_features()
    tag = hashlib.sha256(src + host).hexdigest()[:16]
    target = cache_dir() / f"{stem}_{tag}.so"
    if not target.exists():
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = Path(tmp) / target.name
            cmd = [
                cc,
                "-O3",
                "-march=native",
                "-mprefer-vector-width=512",
                "-shared",
                "-fPIC",
                "-o",
                str(out),
                str(source),
                "-lm",
            ]
            if subprocess.run(cmd, capture_output=True).returncode != 0:
                cmd.remove("-mprefer-vector-width=512")
                if subprocess.run(cmd, capture_output=True).returncode != 0:
                    return None
            os.replace(out, target)
    return ctypes.CDLL(str(target))


Signatures = Mapping[str, tuple[Any, Sequence[Any]]]  # function name -> (restype, argtypes)


def load(source: Path, stem: str, signatures: Signatures) -> ctypes.CDLL | None:
    """The one loader of carekey's compiled kernels: ``source`` compiled (``compile_library``, cached on disk
    and per process) with each function's ctypes signature declared; None without a compiler (callers keep a
    numpy fallback)."""
    return _load(
        source, stem, tuple((name, restype, tuple(argtypes)) for name, (restype, argtypes) in signatures.items())
    )


@cache
def _load(source: Path, stem: str, signatures: tuple[tuple[str, Any, tuple[Any, ...]], ...]) -> ctypes.CDLL | None:
    lib = compile_library(source, stem)
    if lib is None:
        return None
    for name, restype, argtypes in signatures:
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = list(argtypes)
    return lib
