"""Per-commit results of one report kept on disk while the report is made, and read back in the window's order.

Judging makes a judgment, a classification and the evidence behind them for every commit of a window; held as
objects until the report is built, that is hundreds of bytes a commit. ``Spool`` pickles each record to an
anonymous temporary file (``tempfile.TemporaryFile``: no name on POSIX, so nothing to find, clean or leave
behind; freed when closed, when the process ends or when it is killed; created in the system's temporary
directory, never in the repository) and keeps only its offset. Records are read back one at a time by position
(``get``) or all in order, a block of the file at a time (iteration, again and again). Only this process writes
and reads the file, so nothing from outside is ever unpickled. A spool that cannot create its file keeps the
pickled bytes in memory (smaller than the objects, no slower).
"""

from __future__ import annotations

import pickle
import tempfile
from array import array
from typing import Any, Iterator

__all__ = ["Spool"]

_PREFIX = "narrator-spool-"
_BLOCK = 1 << 20  # records read back in order in blocks of about this many bytes


class Spool:
    """Records appended once (any picklable value) and read back by position or in order."""

    def __init__(self) -> None:
        self._offsets = array("q", [0])
        self._memory: bytearray | None = None
        self._writing = True  # the file's position is at its end
        try:
            self._file: Any = tempfile.TemporaryFile(prefix=_PREFIX)
        except OSError:  # no writable temporary directory: the pickled bytes stay in memory
            self._file = None
            self._memory = bytearray()

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def append(self, record: Any) -> int:
        """Store ``record``; returns its position."""
        data = pickle.dumps(record, pickle.HIGHEST_PROTOCOL)
        if self._memory is not None:
            self._memory += data
        else:
            if not self._writing:
                self._file.seek(self._offsets[-1])
                self._writing = True
            self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))
        return len(self._offsets) - 2

    def _read(self, start: int, end: int) -> bytes | bytearray:
        if self._memory is not None:
            return self._memory[start:end]
        if self._writing:
            self._file.flush()
            self._writing = False
        self._file.seek(start)
        return self._file.read(end - start)

    def get(self, position: int) -> Any:
        """The record stored at ``position``."""
        return pickle.loads(self._read(self._offsets[position], self._offsets[position + 1]))

    def __iter__(self) -> Iterator[Any]:
        """Every record, in the order stored."""
        offsets, count, at = self._offsets, len(self), 0
        while at < count:
            last = at + 1
            while last < count and offsets[last + 1] - offsets[at] <= _BLOCK:
                last += 1
            start = offsets[at]
            block = memoryview(self._read(start, offsets[last]))
            for k in range(at, last):
                yield pickle.loads(block[offsets[k] - start:offsets[k + 1] - start])
            at = last

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
