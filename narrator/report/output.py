"""Writing a rendered report to disk without ever leaving a partial file behind.

The text goes to a temporary file in the destination directory (``.<name>.narrator-<pid>-<random>.tmp``), is
flushed to disk, then moved over the destination with ``os.replace`` (atomic on POSIX and Windows). Any
failure removes the temporary file and raises one ``OutputError`` whose message says which path failed and
how to fix it; a temporary file left by a killed run (``kill -9``) is removed by the next write into that
directory once it is a few minutes old and its process is gone. A named pipe or a device (``/dev/null``, a
terminal) is written into as a stream, never replaced. Paths inside narrator's cache directory are refused:
a report written over the cache database would break every later run.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Iterable

from narrator.errors import OutputError

__all__ = ["check_writable", "write_atomic", "TEMP_MARK", "STALE_AFTER_S"]

log = logging.getLogger(__name__)

TEMP_MARK = ".narrator-"
STALE_AFTER_S = 300.0  # a temporary file this old whose process is gone was left by a killed run
_TEMP_NAME = re.compile(r"^\..+\.narrator-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def _default_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _is_stream(target: Path) -> bool:
    """True for an existing named pipe, character device or socket, and for anything under /dev or /proc
    (``/dev/stdout`` is a link to ``/proc/self/fd/1``, whatever that is): written into, never replaced."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    if stat.S_ISDIR(mode):
        return False
    if Path(os.path.abspath(target)).parts[1:2] in (("dev",), ("proc",)):
        return True  # replacing /dev/stdout with a regular file would break it for every program
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _real_target(target: Path) -> Path:
    """The file a symbolic link points to (written in place of the link, which stays a link)."""
    if not target.is_symlink():
        return target
    try:
        return Path(os.path.realpath(target))
    except (OSError, ValueError):
        return target


def _inside_cache(target: Path) -> Path | None:
    """narrator's cache directory when ``target`` lies inside it (or is it)."""
    from narrator.cache import cache_dir

    try:
        cache = Path(os.path.realpath(cache_dir()))
        real = Path(os.path.realpath(target))
    except (OSError, ValueError):
        return None
    return cache if real == cache or cache in real.parents else None


def check_writable(path: str | os.PathLike[str]) -> Path:
    """The output path, or ``OutputError`` when it cannot be written (checked before any work is done)."""
    target = Path(path).expanduser()
    directory = target.parent if str(target.parent) else Path(".")
    cache = _inside_cache(target)
    if cache is not None:
        raise OutputError(f"cannot write report to {target}: it is inside narrator's cache directory {cache}; "
                          "choose another --output path")
    if _is_stream(target):
        if not os.access(target, os.W_OK):
            raise OutputError(f"cannot write report to {target}: permission denied; choose a writable --output path")
        return target
    if target.is_dir():
        raise OutputError(f"cannot write report to {target}: it is a directory; give a file name, e.g. "
                          f"{target / 'report.md'}")
    if not directory.is_dir():
        raise OutputError(f"cannot write report to {target}: directory {directory} does not exist; "
                          "create it first or choose another --output path")
    if not os.access(directory, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OutputError(f"cannot write report to {target}: permission denied; choose a writable --output path")
    return target


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def clean_stale_temporaries(directory: Path, now: float | None = None) -> list[Path]:
    """Remove temporary files of our own naming left in ``directory`` by killed runs; return what was removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_AFTER_S or _alive(int(match["pid"])):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
            log.debug("removed %s, left by an interrupted narrator run", entry.path)
        except OSError:
            continue
    return removed


def _write_pieces(handle: object, text: str | bytes | Iterable[str]) -> None:
    if isinstance(text, (str, bytes)):
        handle.write(text)  # type: ignore[attr-defined]
    else:
        for piece in text:
            handle.write(piece)  # type: ignore[attr-defined]


def write_atomic(path: str | os.PathLike[str], text: str | bytes | Iterable[str], encoding: str = "utf-8") -> Path:
    """Write ``text`` (a string, pieces of one, or bytes such as a PDF) to ``path`` atomically; return the path
    written. A named pipe, a device or anything under /dev or /proc is written into, never replaced; a symbolic
    link stays a link (the file it points to is replaced).

    Raises ``OutputError`` when the directory is missing, the path is a directory, or writing fails.
    """
    target = check_writable(path)
    if not _is_stream(target):
        target = check_writable(_real_target(target))  # a link to report.md: report.md is replaced, not the link
    if _is_stream(target):
        try:
            with (open(target, "wb") if isinstance(text, bytes) else
                  open(target, "w", encoding=encoding, newline="")) as handle:
                _write_pieces(handle, text)
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutputError(f"cannot write report to {target}: {reason}; choose a writable --output path") from exc
        return target
    directory = target.parent
    clean_stale_temporaries(directory)
    try:
        mode = os.stat(target).st_mode & 0o7777 if target.exists() else _default_mode()
    except OSError:
        mode = _default_mode()
    tmp_name: str | None = None
    try:
        candidate = str(directory / f".{target.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}.tmp")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        tmp_name = candidate
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else
              os.fdopen(fd, "w", encoding=encoding, newline="")) as handle:
            _write_pieces(handle, text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
        tmp_name = None
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(f"cannot write report to {target}: {reason}; choose a writable --output path") from exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    return target
