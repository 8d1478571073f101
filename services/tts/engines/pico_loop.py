"""SVOX Pico's synthesis loop in C: built once with the system's C compiler, cached, checked.

``pico_getData`` runs one processing step per call; calling it from Python takes the GIL back
after every step (see ``services.tts.engines.pico``). The loop below calls it until a chunk is
full, in one call from Python. It is compiled once per machine into the cache folder
($PARLEY_CACHE_DIR/native, else ~/.cache/parley/native) and loaded only if it carries the
digest of its own source and nobody else may write it; where no compiler is found, the engine
runs the same loop in Python.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from parley.logs import get_logger

log = get_logger(__name__)

_FILL_SOURCE = r"""
typedef int (*get_data_fn)(void *engine, void *buffer, short size, short *received, short *kind);

/* Calls pico_getData until `want` bytes are in `out`, `out` cannot take another `read` bytes, or
   the engine is no longer busy. Returns the last status; *got is the number of bytes written. */
int parley_pico_fill(get_data_fn get_data, void *engine, char *out, int cap, int want, int read,
                     int *got) {
    short received = 0, kind = 0;
    int n = 0, status = 201;
    while (status == 201 && n < want && cap - n >= read) {
        status = get_data(engine, out + n, (short)read, &received, &kind);
        if (status != 200 && status != 201) break;
        n += received;
    }
    *got = n;
    return status;
}
"""
_FILL_LOCK = threading.Lock()
_FILL: list = []  # [function or None] once built


def _native_dir() -> Path:
    configured = os.environ.get("PARLEY_CACHE_DIR")
    if configured:
        return Path(configured).expanduser() / "native"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "parley" / "native"


def _compiler() -> str:
    """The C compiler: $CC, else cc, else gcc.

    Raises:
        OSError: if there is none.
    """
    compiler = (
        shutil.which(os.environ["CC"]) if os.environ.get("CC") else shutil.which("cc")
    ) or shutil.which("gcc")
    if not compiler:
        raise OSError("no C compiler ($CC, cc or gcc)")
    return compiler


def _source_digest() -> str:
    """SHA-256 of the loop's source and the machine it is built for."""
    return hashlib.sha256(f"{_FILL_SOURCE}{platform.machine()}".encode()).hexdigest()


def _trusted(path: Path, digest: str) -> bool:
    """True if the library at ``path`` was built by this user from this very source: it is
    ours, nobody else may write it, and it carries the source's digest (read, not run)."""
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return False
    return f"parley-pico-fill-source:{digest}".encode() in path.read_bytes()


def _compile(folder: Path, name: str, compiler: str) -> Path:
    """Compiles :data:`_FILL_SOURCE` into ``folder/name`` (atomically) and returns the path.
    The library carries the digest of its source, which :func:`_trusted` checks."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        source = Path(work) / "pico_fill.c"
        mark = f"parley-pico-fill-source:{_source_digest()}"
        source.write_text(f'{_FILL_SOURCE}\nconst char parley_pico_fill_source[] = "{mark}";\n')
        built = Path(work) / name
        subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", str(built), str(source)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        os.replace(built, folder / name)
    return folder / name


def _build(name: str) -> Path:
    """The compiled loop: from the cache folder (built there once), or, where that cannot be
    written (a read-only container), built into a new private temporary folder."""
    path = _native_dir() / name
    if path.exists():
        if _trusted(path, _source_digest()):
            return path
        log.warning(
            "a cached SVOX Pico loop does not match its source: built again", path=str(path)
        )
    compiler = _compiler()
    try:
        return _compile(path.parent, name, compiler)
    except OSError:
        # A fresh folder of our own each time: never load a library from a shared place.
        return _compile(Path(tempfile.mkdtemp(prefix="parley-native-")), name, compiler)


def native_fill():
    """The C loop around ``pico_getData`` (see the module's doc), or None where it cannot be
    built. Built once per machine and cached in $PARLEY_CACHE_DIR/native (else
    ~/.cache/parley/native)."""
    with _FILL_LOCK:
        if _FILL:
            return _FILL[0]
        function, reason = None, ""
        try:
            path = _build(f"pico_fill-{_source_digest()[:16]}.so")
            function = ctypes.CDLL(str(path)).parley_pico_fill
        except (OSError, subprocess.SubprocessError) as exc:
            reason = str(exc)
        if function is None:
            log.info("SVOX Pico loop runs in Python (slower first audio)", reason=reason)
        else:
            function.restype = ctypes.c_int
            function.argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.POINTER(ctypes.c_int),
            ]
        _FILL.append(function)
        return function
