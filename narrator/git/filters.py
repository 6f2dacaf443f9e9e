"""Python-side commit filters applied after the walk: authors, paths, merges (git's own filters come first)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from narrator.git.classify import path_matches
from narrator.git.facts import CommitFacts


@dataclass(frozen=True)
class CommitFilter:
    """Which commits and files a report keeps: ``--author``, ``--path``, ``--exclude``, ``--no-merges``."""

    authors: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    no_merges: bool = False

    def apply(self, commits: Iterable[CommitFacts]) -> list[CommitFacts]:
        out = []
        for c in commits:
            if self.no_merges and c.is_merge:
                continue
            if not _author_matches(c, self.authors):
                continue
            kept = _filter_files(c, self.paths, self.excludes)
            if kept is not None:
                out.append(kept)
        return out


def _filter_files(commit: CommitFacts, paths: Sequence[str], excludes: Sequence[str]) -> CommitFacts | None:
    if not paths and not excludes:
        return commit
    kept = tuple(
        f for f in commit.files
        if (not paths or path_matches(f.path, paths) or (f.old_path and path_matches(f.old_path, paths)))
        and not (excludes and path_matches(f.path, excludes))
    )
    if not kept:
        return None
    return commit if len(kept) == len(commit.files) else replace(commit, files=kept)


def _author_matches(commit: CommitFacts, authors: Sequence[str]) -> bool:
    """``--author``: the commit's author (as ``git log --author``), so the people count follows the filter."""
    if not authors:
        return True
    hay = f"{commit.author.name} <{commit.author.email}>".lower()
    return any(a.lower() in hay for a in authors)
