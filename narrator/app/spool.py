"""Per-commit results of one report kept on disk while the report is made, and read back in the window's order.

Judging makes a judgment, a classification and the evidence behind them for every commit of a window; held as
objects until the report is built, that is hundreds of bytes a commit. ``Spool`` pickles each record into a
``report/spill.RecordFile`` (an anonymous temporary file: no name, nothing left behind, never in the repository;
the bytes stay in memory when no temporary file can be made) and keeps only its offset. Records are read back one
at a time by position (``get``) or all in order, a block of the file at a time (iteration, again and again). Only
this process writes and reads the file, so nothing from outside is ever unpickled.
"""

from __future__ import annotations

import pickle
from typing import Any, Iterator

from narrator.report.spill import RecordFile

__all__ = ["Spool"]


class Spool:
    """Records appended once (any picklable value) and read back by position or in order."""

    def __init__(self) -> None:
        self._records = RecordFile(prefix="narrator-spool-")

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: Any) -> int:
        """Store ``record``; returns its position."""
        return self._records.add(pickle.dumps(record, pickle.HIGHEST_PROTOCOL))

    def get(self, position: int) -> Any:
        """The record stored at ``position``."""
        return pickle.loads(self._records.read(position))

    def __iter__(self) -> Iterator[Any]:
        """Every record, in the order stored."""
        return map(pickle.loads, self._records.reads(range(len(self._records))))

    def close(self) -> None:
        self._records.close()
