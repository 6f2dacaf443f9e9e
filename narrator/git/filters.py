"""Python-side commit filters applied after the walk: authors, paths, merges (git's own filters come first)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from narrator.git.classify import path_matches
from narrator.git.facts import CommitFacts


def pathspec_globs(patterns: Sequence[str]) -> tuple[str, ...]:
    """``--path``/``--exclude`` patterns as globs that match at any depth, the way people expect git pathspecs to:
    ``*.md`` is any Markdown file, ``docs`` is any ``docs`` directory (or file) and everything under it,
    ``src/api`` is that directory and everything under it; ``**`` patterns are kept as written."""
    out: list[str] = []
    for raw in patterns:
        pattern = raw.strip().lstrip("./") if raw.strip().startswith("./") else raw.strip()
        pattern = pattern.rstrip("/")
        if not pattern:
            continue
        if pattern.startswith("/"):  # anchored at the repository root
            pattern = pattern.lstrip("/")
            out += [pattern, f"{pattern}/**"]
        elif "/" not in pattern:
            out += [pattern, f"**/{pattern}", f"{pattern}/**", f"**/{pattern}/**"]
        else:
            out += [pattern, f"{pattern}/**"]
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class CommitFilter:
    """Which commits and files a report keeps: ``--author``, ``--path``, ``--exclude``, ``--no-merges``."""

    authors: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    no_merges: bool = False

    def apply(self, commits: Iterable[CommitFacts]) -> list[CommitFacts]:
        paths, excludes = pathspec_globs(self.paths), pathspec_globs(self.excludes)
        out = []
        for c in commits:
            if self.no_merges and c.is_merge:
                continue
            if not _author_matches(c, self.authors):
                continue
            kept = _filter_files(c, paths, excludes)
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
