"""Which merges of a window need their own files: those that may have brought in commits outside the window.

A merge's files (its diff against its first parent) say nothing that the commits it brought in do not already
say when all of those commits are in the same report, and diffing every merge is most of git's time on a history
of pull requests (numpy: 17 s of 39 s). A report therefore reads facts without merge diffs and asks for the files
of only the merges this module cannot prove to be covered by the window.

A merge M brought in the commits reachable from its other parents and not from its first parent. The proof walks
from M's other parents through the window's commits and stops at any commit on the first-parent chain of M's first
parent (an ancestor of it, so not brought in); it fails as soon as it meets a commit outside the window (which may
or may not be brought in: the files are then read, never guessed) or walks more than ``WALK_LIMIT`` commits.
First-parent ancestry is an interval test on an Euler tour of the window's first-parent forest, so the whole
window costs about the size of the branches, not windows times merges.
"""

from __future__ import annotations

from typing import Mapping

from narrator.git.facts import CommitFacts

WALK_LIMIT = 20_000  # commits one merge's proof may visit (a long-lived branch: its files are read instead)


def merges_needing_files(commits: Mapping[str, CommitFacts]) -> list[str]:
    """The merges among ``commits`` (a window's facts by sha) that may have brought in a commit outside it."""
    merges = [c for c in commits.values() if c.is_merge]
    if not merges:
        return []
    enter, leave = _first_parent_tour(commits)
    out = []
    for merge in merges:
        if not _covered(merge, commits, enter, leave):
            out.append(merge.sha)
    return out


def _first_parent_tour(commits: Mapping[str, CommitFacts]) -> tuple[dict[str, int], dict[str, int]]:
    """Entry and exit times of a depth-first tour of the first-parent forest (a commit's first parent is its
    parent in the forest when it is in the window): ``a`` is a first-parent ancestor of ``b`` (or ``b``) exactly
    when ``enter[a] <= enter[b]`` and ``leave[b] <= leave[a]``."""
    children: dict[str, list[str]] = {}
    roots = []
    for sha, c in commits.items():
        first = c.parents[0] if c.parents else None
        if first is not None and first in commits:
            children.setdefault(first, []).append(sha)
        else:
            roots.append(sha)
    enter: dict[str, int] = {}
    leave: dict[str, int] = {}
    clock = 0
    for root in roots:
        stack = [(root, False)]
        while stack:
            sha, done = stack.pop()
            if done:
                leave[sha] = clock
                clock += 1
                continue
            enter[sha] = clock
            clock += 1
            stack.append((sha, True))
            stack.extend((child, False) for child in children.get(sha, ()))
    return enter, leave


def _covered(merge: CommitFacts, commits: Mapping[str, CommitFacts], enter: Mapping[str, int],
             leave: Mapping[str, int]) -> bool:
    """Whether every commit ``merge`` brought in is in ``commits`` (False when that cannot be shown)."""
    base = merge.parents[0]
    if base not in commits:
        return False
    low, high = enter[base], leave[base]
    seen: set[str] = set()
    stack = list(merge.parents[1:])
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        if sha not in commits or len(seen) > WALK_LIMIT:
            return False
        if enter[sha] <= low and high <= leave[sha]:  # on the first parent's own first-parent chain
            continue
        stack.extend(commits[sha].parents)
    return True
