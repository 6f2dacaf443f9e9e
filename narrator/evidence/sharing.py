"""One object per distinct frozen value: ``shared(table, value)``; how many paths a per-path memo keeps
(``PATH_MEMO``). A long window repeats the same small values in many commits (evidence kind counts, judgment
reasons, area lists); each table keeps one of each, bounded. No imports of its own, so ``git.facts`` (imported
everywhere) can use it at no cost."""

from __future__ import annotations

from typing import Any

_SHARED_LIMIT = 65536  # distinct values a table keeps; past it the table starts again (bounded memory)
# Distinct paths each per-path memo (an lru_cache of a path's kind, language, area ...) remembers. A long history
# touches far more (98,000 in 200,000 generated commits, 8,655 in numpy's 42,000): a memo that kept them all would
# grow with the history, a dozen of them by about 5 MiB per 50,000 paths.
PATH_MEMO = 16384


def shared(table: dict, value: Any) -> Any:
    """The one object of ``table`` equal to ``value`` (``value`` itself the first time): frozen values repeated
    across a window's commits are kept once. Values must not mix types that are equal but print differently
    (1 and 1.0 and True, 0.0 and -0.0)."""
    if len(table) >= _SHARED_LIMIT:
        table.clear()
    try:
        return table.setdefault(value, value)
    except TypeError:  # an unhashable value (a list given by a caller): kept as it is
        return value
