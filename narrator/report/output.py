"""Writing a rendered report to disk without ever leaving a partial file behind.

The text goes to a temporary file in the destination directory, is flushed to disk, then moved over the
destination with ``os.replace`` (atomic on POSIX and Windows). Any failure removes the temporary file and
raises one ``OutputError`` whose message says which path failed and how to fix it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from narrator.errors import OutputError

__all__ = ["check_writable", "write_atomic"]


def _default_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable(path: str | os.PathLike[str]) -> Path:
    """The output path, or ``OutputError`` when it cannot be written (checked before any work is done)."""
    target = Path(path).expanduser()
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"cannot write report to {target}: it is a directory; give a file name, e.g. "
                          f"{target / 'report.md'}")
    if not directory.is_dir():
        raise OutputError(f"cannot write report to {target}: directory {directory} does not exist; "
                          "create it first or choose another --output path")
    if not os.access(directory, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OutputError(f"cannot write report to {target}: permission denied; choose a writable --output path")
    return target


def write_atomic(path: str | os.PathLike[str], text: str | Iterable[str], encoding: str = "utf-8") -> Path:
    """Write ``text`` (a string, or pieces of one) to ``path`` atomically; return the resolved path written.

    Raises ``OutputError`` when the directory is missing, the path is a directory, or writing fails.
    """
    target = check_writable(path)
    directory = target.parent
    try:
        mode = os.stat(target).st_mode & 0o7777 if target.exists() else _default_mode()
    except OSError:
        mode = _default_mode()
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                for piece in text:
                    handle.write(piece)
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
