"""The progress contract between long-running stages and whoever shows progress (the CLI's bar, or nothing).

Library code never prints: stages report through a ``ProgressSink`` they are given.
"""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def stop(self) -> None: ...


class NoProgress:
    """A ProgressSink that shows nothing (library callers, background jobs)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass
