"""Patterns that come from users (config files), compiled so that no pattern can hang a report.

Two kinds:

- regular expressions (``[classify]`` subject rules): compiled with the ``regex`` package and matched with a
  time limit per match and in total; a pattern that backtracks catastrophically (``(a+)+$``) becomes one
  ``ConfigError`` naming the key and the file, instead of a report that never ends;
- globs (area globs, rule paths, ``--path`` filters): matched by a lazily built DFA, in time linear in the
  path whatever the glob (a backtracking regex for ``*a*a*...*b`` with 60 stars takes centuries on a
  non-matching path). ``**/`` means any number of directories (none included), ``**`` anything, ``*``
  anything within one path segment, ``?`` one character other than ``/``; matching ignores case.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

from narrator.errors import ConfigError

__all__ = ["UserPattern", "GlobSet", "compile_user_regex", "compile_globs"]

MATCH_TIMEOUT_S = 0.5  # one match of a subject line: real patterns take microseconds
TOTAL_BUDGET_S = 10.0  # all matches of one pattern in one run


class UserPattern:
    """A user's regular expression; ``search`` never runs away (``ConfigError`` when it would)."""

    def __init__(self, pattern: Any, key: str, source: str, ignore_case: bool = True, what: str = "") -> None:
        import regex

        if not isinstance(pattern, str):
            raise ConfigError(f"{key} {what}in {source} must be a string (a regular expression), "
                              f"got {type(pattern).__name__} {pattern!r}"[:300])
        self.pattern = pattern
        self.key = key
        self.source = source
        self._spent = 0.0
        try:
            self._compiled = regex.compile(pattern, (regex.IGNORECASE if ignore_case else 0) | regex.VERSION0)
        except (regex.error, ValueError, OverflowError) as exc:
            raise ConfigError(f"{key} in {source}: invalid {what}regex {pattern!r}: {exc}"[:400]) from None
        self.what = what

    def search(self, text: str) -> Any:
        started = time.perf_counter()
        try:
            return self._compiled.search(text, timeout=min(MATCH_TIMEOUT_S, max(0.001, TOTAL_BUDGET_S - self._spent)))
        except TimeoutError:
            raise ConfigError(
                f"{self.key} in {self.source}: the {self.what}regex {self.pattern[:80]!r} takes too long to match "
                "(it backtracks catastrophically, e.g. nested quantifiers like (a+)+); simplify it"
            ) from None
        finally:
            self._spent += time.perf_counter() - started


def compile_user_regex(pattern: Any, key: str, source: str = "the config", ignore_case: bool = True,
                       what: str = "") -> UserPattern:
    """``pattern`` compiled for safe matching; ``ConfigError`` (with ``key`` and ``source``) when it is invalid.

    ``what`` names the pattern's role in messages ("subject " -> "invalid subject regex").
    """
    return UserPattern(pattern, key, source, ignore_case, what)


# -- globs ------------------------------------------------------------------------------------------------

_LIT, _ANY, _STAR, _DSTAR, _DSLASH, _ACCEPT = range(6)


def _tokens(glob: str) -> list[tuple[int, str]]:
    """The glob as tokens (the same reading as the regex translation it replaces)."""
    out: list[tuple[int, str]] = []
    i = 0
    text = glob.lower()
    while i < len(text):
        if text.startswith("**/", i):
            kind, i = _DSLASH, i + 3
        elif text.startswith("**", i):
            kind, i = _DSTAR, i + 2
        elif text[i] == "*":
            kind, i = _STAR, i + 1
        elif text[i] == "?":
            out.append((_ANY, ""))
            i += 1
            continue
        else:
            out.append((_LIT, text[i]))
            i += 1
            continue
        # runs of stars collapse (fewer states): ** absorbs * around it, **/ after ** is just **
        if out and out[-1][0] in (_STAR, _DSTAR) and kind in (_STAR, _DSTAR):
            out[-1] = (max(out[-1][0], kind), "")
        elif out and out[-1][0] == _DSTAR and kind == _DSLASH:
            continue
        elif out and out[-1][0] == _DSLASH and kind == _DSLASH:
            continue
        else:
            out.append((kind, ""))
    return out


class GlobSet:
    """Any of several globs, matched in one pass over the path (a DFA built as paths need it)."""

    _MAX_STATES = 4096  # a cache, not a limit: past it the DFA is rebuilt from scratch

    def __init__(self, globs: Iterable[str]) -> None:
        self.globs = tuple(globs)
        self._tok: list[tuple[int, str]] = []
        self._starts: list[int] = []
        for glob in self.globs:
            if not isinstance(glob, str):
                raise ConfigError(f"glob {glob!r} must be a string")
            self._starts.append(len(self._tok) * 2)
            self._tok += _tokens(glob)
            self._tok.append((_ACCEPT, ""))
        self._reset()

    def _reset(self) -> None:
        self._ids: dict[frozenset[int], int] = {}
        self._sets: list[frozenset[int]] = []
        self._accepts: list[bool] = []
        self._next: list[dict[str, int]] = []
        self._dead = self._intern(frozenset())
        self._start = self._intern(self._closure(self._starts))

    def _intern(self, states: frozenset[int]) -> int:
        found = self._ids.get(states)
        if found is None:
            found = self._ids[states] = len(self._sets)
            self._sets.append(states)
            self._accepts.append(any(not s & 1 and self._tok[s >> 1][0] == _ACCEPT for s in states))
            self._next.append({})
        return found

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        seen: set[int] = set()
        stack = list(states)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            if not s & 1 and self._tok[s >> 1][0] in (_STAR, _DSTAR, _DSLASH):
                stack.append(s + 2)  # a star may match nothing
        return frozenset(seen)

    def _step(self, state: int, ch: str) -> int:
        out: list[int] = []
        for s in self._sets[state]:
            p = s >> 1
            kind, lit = self._tok[p]
            if s & 1:  # inside the ".*/" of a "**/"
                out.append(s)
                if ch == "/":
                    out.append((p + 1) * 2)
            elif kind == _LIT:
                if ch == lit:
                    out.append((p + 1) * 2)
            elif kind == _ANY:
                if ch != "/":
                    out.append((p + 1) * 2)
            elif kind == _STAR:
                if ch != "/":
                    out.append(s)
            elif kind == _DSTAR:
                out.append(s)
            elif kind == _DSLASH:
                out.append(s | 1)
                if ch == "/":
                    out.append((p + 1) * 2)
        nxt = self._intern(self._closure(out))
        self._next[state][ch] = nxt
        return nxt

    def match(self, path: str) -> bool | None:
        """True when ``path`` matches one of the globs (None otherwise, like ``re.match``)."""
        if len(self._sets) > self._MAX_STATES:
            self._reset()
        state = self._start
        nexts = self._next
        dead = self._dead
        for ch in path.lower():
            nxt = nexts[state].get(ch)
            if nxt is None:
                nxt = self._step(state, ch)
            if nxt == dead:
                return None
            state = nxt
        return True if self._accepts[state] else None


def compile_globs(globs: Sequence[str]) -> GlobSet:
    """A matcher for any of ``globs``, linear in the length of the path."""
    return GlobSet(globs)
