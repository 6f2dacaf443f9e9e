"""``file:DIR`` delivery: copy the rendered files into an existing directory, each one atomically.

Each file is copied to a temporary name in DIR, flushed, then moved over the final name (``os.replace``),
so a reader of DIR never sees a half-written report. DIR must exist (a missing one is usually an unmounted
share or a typo, and creating it would hide that); it is not created.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from narrator.delivery.model import clean_line
from narrator.delivery.retry import SendFailure

__all__ = ["copy_into"]

_TRANSIENT_ERRNO = {errno.ENOSPC, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.EIO, errno.ESTALE}


def copy_into(files: Sequence[Path], directory: str | os.PathLike[str]) -> list[Path]:
    """Copy ``files`` into ``directory``; return the paths written. ``SendFailure`` when that cannot be done."""
    target = Path(directory)
    if not files:
        raise SendFailure("there is no rendered file to copy (write the report to a file too)", transient=False)
    if not target.is_dir():
        raise SendFailure(f"directory {clean_line(target, 200)} does not exist (create it, or mount the share)",
                          transient=False)
    written = []
    for source in files:
        source = Path(source)
        tmp: str | None = None
        try:
            if source.resolve() == (target / source.name).resolve():
                written.append(source)  # already there: the report was written into DIR itself
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{source.name}.", suffix=".tmp", dir=target)
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, target / source.name)
            tmp = None
            written.append(target / source.name)
        except OSError as exc:
            transient = exc.errno in _TRANSIENT_ERRNO
            raise SendFailure(f"cannot copy {source.name} into {clean_line(target, 200)}: "
                              f"{exc.strerror or exc}", transient=transient) from None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
    return written
