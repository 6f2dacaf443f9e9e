"""A long report's commit entries kept on disk, as their JSON text, and read back when they are used.

A report lists every commit of its window (and again under its category, its areas, the bots or the merges); held
as objects, that is kilobytes per commit until the report is written. ``EntryStore`` appends each entry's JSON
text (``json_text.piece``, exactly what the JSON output writes) to an anonymous temporary file:
``tempfile.TemporaryFile`` has no name on POSIX (nothing to find, clean or leave behind: the system frees it when
the store is closed, when the process ends, or when it is killed), and on Windows it is deleted when closed. It is
created in the system's temporary directory, never in the repository. ``Entries`` is a list-like view of some of
the stored entries by position: ``len``, iteration (again and again), indexing, slices (a view too), ``==``
against a list; ``json_texts`` hands the stored text to the JSON output unchanged. A store that cannot create its
file keeps the text in memory (slower to nothing, larger). The file itself is a ``RecordFile`` (byte records by
position, block reads), which ``app/spool`` uses for pickled records too.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Sequence
from typing import Any, Callable, Iterable, Iterator, overload

from narrator.report.json_text import piece

__all__ = ["EntryStore", "Entries", "RecordFile"]

_PREFIX = "narrator-entries-"
_BLOCK = 1 << 20  # entries read back in blocks of at most this many bytes (or one entry, when larger)
_GAP = 4096  # ... skipping at most this many bytes of other entries between two of them


class RecordFile:
    """Byte records appended once to an anonymous temporary file and read back by position: one at a time, or
    many in one block read when they lie close together (in order, at most ``_GAP`` bytes apart, ``_BLOCK`` bytes
    at most). A store that cannot create its file keeps the bytes in memory. Shared by ``EntryStore`` (JSON text)
    and ``app/spool.Spool`` (pickled records)."""

    def __init__(self, prefix: str = _PREFIX) -> None:
        self._offsets = array("q", [0])
        self._memory: list[bytes] | None = None
        self._dirty = False
        try:
            self._file: Any = tempfile.TemporaryFile(prefix=prefix)
        except OSError:  # no writable temporary directory: the bytes stay in memory
            self._file = None
            self._memory = []

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def add(self, data: bytes) -> int:
        """Store ``data``; returns its position."""
        if self._memory is not None:
            self._memory.append(data)
        else:
            if not self._dirty:  # the first write, or the first after a read moved the file's position
                self._file.seek(self._offsets[-1])
            self._file.write(data)
            self._dirty = True
        self._offsets.append(self._offsets[-1] + len(data))
        return len(self._offsets) - 2

    def read(self, position: int) -> bytes:
        """The record stored at ``position``."""
        if self._memory is not None:
            return self._memory[position]
        if self._dirty:
            self._file.flush()
            self._dirty = False
        start = self._offsets[position]
        self._file.seek(start)
        return self._file.read(self._offsets[position + 1] - start)

    def reads(self, positions: Sequence[int]) -> Iterator[bytes]:
        """The records at ``positions``, in their order: records stored near one another (a window's commits in
        order, a category's or an area's in history order) read from the file in one block, not one read each."""
        if self._memory is not None:
            for position in positions:
                yield self._memory[position]
            return
        offsets = self._offsets
        at, count = 0, len(positions)
        while at < count:
            first = positions[at]
            start = end = offsets[first]
            last = at  # the run: positions[at:last], each after the one before, close together, one block at most
            while last < count:
                position = positions[last]
                begin = offsets[position]
                if last > at and (position <= positions[last - 1] or begin - end > _GAP or
                                  offsets[position + 1] - start > _BLOCK):
                    break
                end = offsets[position + 1]
                last += 1
            if self._dirty:
                self._file.flush()
                self._dirty = False
            self._file.seek(start)
            block = self._file.read(end - start)
            for k in range(at, last):
                position = positions[k]
                yield block[offsets[position] - start:offsets[position + 1] - start]
            at = last

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class EntryStore:
    """Entries appended once (as JSON text) and read back by position; ``decode`` turns a text into an entry."""

    def __init__(self, decode: Callable[[str], Any]) -> None:
        self._decode = decode
        self._records = RecordFile()

    def __len__(self) -> int:
        return len(self._records)

    def add(self, entry: Any) -> int:
        """Store ``entry``; returns its position."""
        return self._records.add(piece(entry).encode("ascii"))

    def text(self, position: int) -> str:
        """The stored JSON text of the entry at ``position``."""
        return self._records.read(position).decode("ascii")

    def texts(self, positions: Sequence[int]) -> Iterator[str]:
        """The stored JSON texts at ``positions``, in their order (``RecordFile.reads``: block reads)."""
        for data in self._records.reads(positions):
            yield data.decode("ascii")

    def get(self, position: int) -> Any:
        return self._decode(self.text(position))

    def close(self) -> None:
        self._records.close()

    def view(self, positions: Iterable[int] | None = None) -> "Entries":
        """The entries at ``positions`` (default: all of them, in the order stored)."""
        return Entries(self, array("q", range(len(self)) if positions is None else positions))


class Entries(Sequence):
    """Some entries of an ``EntryStore`` by position, read back on use: behaves like a list of them."""

    __slots__ = ("_store", "_positions")

    def __init__(self, store: EntryStore, positions: array) -> None:
        self._store = store
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @property
    def store(self) -> EntryStore:
        return self._store

    @property
    def positions(self) -> Sequence[int]:
        """Where the entries are in ``store``, in order."""
        return self._positions

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> "Entries": ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Entries(self._store, self._positions[index])
        return self._store.get(self._positions[index])

    def __iter__(self) -> Iterator[Any]:
        decode = self._store._decode
        for text in self._store.texts(self._positions):
            yield decode(text)

    def json_texts(self) -> Iterator[str]:
        """The entries' JSON text as stored (what ``json_text.piece`` gave for each)."""
        return self._store.texts(self._positions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Entries):
            return list(self.json_texts()) == list(other.json_texts())
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"Entries({len(self)} commits)"
