"""Everything the evidence package knows about one commit, gathered into one frozen record.

One job: ``gather(...)`` takes plain data (the commit's subject/body, its parsed patch or just its file
counts, entries found for it elsewhere, the classifier's category) and returns ``CommitEvidence``, the input of
``importance.score`` and ``themes.themes``. Nothing here reads git: the caller passes what it has.

``files`` may be ``patch.FilePatch`` records (then changelog entries and code signals are read from them) or
any objects with ``path`` and ``added``/``deleted`` (``narrator.git.facts.FileChange``): then only the path kinds
and churn are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from narrator.evidence.changelog import ChangelogEntry, added_entries
from narrator.evidence.patch import FilePatch, forget_hunks
from narrator.evidence.paths import path_kind
from narrator.evidence.sharing import shared
from narrator.evidence.signals import Signal, find_signals, text_signals

__all__ = ["CommitEvidence", "gather", "shared"]


@dataclass(frozen=True, slots=True)
class CommitEvidence:
    sha: str
    subject: str
    body: str = ""
    category: str | None = None  # the classifier's category ("Features", "Fixes", ...), when known
    breaking: bool = False  # a Conventional Commits "!" or a BREAKING CHANGE footer
    entries: tuple[ChangelogEntry, ...] = ()  # added by the commit, matched from a release, fragments, tag notes
    signals: tuple[Signal, ...] = ()
    kinds: tuple[tuple[str, int], ...] = ()  # path kind -> files of that kind, most first
    source_paths: tuple[str, ...] = ()
    source_churn: int = 0  # lines added + removed in shipped source
    tests_touched: bool = False
    is_merge: bool = False
    is_revert: bool = False
    is_bot: bool = False
    comments_only: bool = False  # every changed line of shipped source is a comment (a JSDoc fix is documentation)

    def __post_init__(self) -> None:
        # A window's commits have a few hundred distinct path kind counts ("source 1, test 1"): one tuple each,
        # not three per commit (about 180 bytes a commit of a long report).
        object.__setattr__(self, "kinds", shared(_KINDS, self.kinds))

    @property
    def kind_counts(self) -> dict[str, int]:
        return dict(self.kinds)

    @property
    def touches_source(self) -> bool:
        return self.source_churn > 0 or bool(self.source_paths)


_KINDS: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = {}


_SLASH_COMMENTS = frozenset("js mjs cjs jsx ts tsx mts cts java kt kts groovy scala go php c h cc cpp cxx hpp hh cs "
                            "swift rs dart m mm css scss less vue svelte".split())
_HASH_COMMENTS = frozenset("py pyi rb rake sh bash zsh pl pm r ex exs".split())
_SLASH_LINE = re.compile(r"^\s*(?://|/\*|\*|$)")
_HASH_LINE = re.compile(r"^\s*(?:#(?!!)|$)")
_PHP_LINE = re.compile(r"^\s*(?://|/\*|\*|#|$)")


def _only_comments(patch: FilePatch) -> bool:
    """Whether every added and removed line of a source file's patch is a comment or blank (languages whose
    comment syntax is known; anything else is taken as code)."""
    ext = patch.path.rsplit(".", 1)[-1].lower() if "." in patch.path.rsplit("/", 1)[-1] else ""
    pattern = _SLASH_LINE if ext in _SLASH_COMMENTS else _HASH_LINE if ext in _HASH_COMMENTS else None
    if pattern is None or not patch.parsed or patch.is_binary or patch.status != "modified":
        return False
    hunks = patch.hunks
    if not hunks:
        return False
    if ext == "php":
        pattern = _PHP_LINE
    return all(pattern.match(line.text) for hunk in hunks for line in (*hunk.added, *hunk.removed))


def _counts(f: object) -> tuple[int, int]:
    if isinstance(f, FilePatch):
        return f.lines_added, f.lines_removed
    return int(getattr(f, "added", 0) or 0), int(getattr(f, "deleted", 0) or 0)


def gather(sha: str, subject: str, body: str = "", files: Sequence[object] = (), *,
           entries: Iterable[ChangelogEntry] = (), category: str | None = None, breaking: bool = False,
           is_merge: bool = False, is_revert: bool = False, is_bot: bool = False, tag_notes: str = "",
           texts_after: Mapping[str, str] | None = None) -> CommitEvidence:
    """The evidence of one commit (see the module docstring). ``texts_after`` maps a changelog path to its text
    after the commit, so entries know their section and version."""
    counts: dict[str, int] = {}
    source_paths: list[str] = []
    churn = 0
    tests = False
    patches: list[FilePatch] = []
    found: list[ChangelogEntry] = []
    for f in files:
        path = getattr(f, "path", "")
        binary = bool(getattr(f, "is_binary", False) or getattr(f, "binary", False))
        kind = path_kind(path, binary)
        counts[kind] = counts.get(kind, 0) + 1
        added, removed = _counts(f)
        if kind == "source":
            source_paths.append(path)
            churn += added + removed
        elif kind == "test":
            tests = True
        if isinstance(f, FilePatch):
            patches.append(f)
            if kind == "changelog":
                found.extend(added_entries(f, (texts_after or {}).get(path)))
    all_entries = tuple(found) + tuple(e for e in entries if e not in found)
    source_patches = [p for p in patches if path_kind(p.path, p.is_binary) == "source"]
    comments_only = bool(source_patches) and len(source_patches) == len(source_paths) and \
        all(_only_comments(p) for p in source_patches)
    signals = find_signals(patches) if patches else ()
    if patches:
        forget_hunks()
    signals += text_signals(subject, body, all_entries, tag_notes)
    kinds = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return CommitEvidence(sha=sha, subject=subject, body=body, category=category, breaking=breaking,
                          entries=all_entries, signals=signals, kinds=kinds, source_paths=tuple(source_paths),
                          source_churn=churn, tests_touched=tests, is_merge=is_merge, is_revert=is_revert,
                          is_bot=is_bot, comments_only=comments_only)
