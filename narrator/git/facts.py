"""Plain frozen data describing commits: what every later stage (classify, narrate, report) reads.

Nothing here knows about git objects, subprocesses or models. Facts are built by ``walker.py`` and
serialised to the cache with ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from functools import lru_cache
from operator import attrgetter
from typing import Any


_ADDED, _DELETED = attrgetter("added"), attrgetter("deleted")

FACTS_VERSION = 5  # bump when the shape or the meaning of the facts changes (part of the cache key)


class ChangeType(str, Enum):
    """How a file changed in a commit (git's --raw status letters)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    COPIED = "copied"
    TYPE_CHANGED = "type_changed"
    UNKNOWN = "unknown"

    @classmethod
    def from_status(cls, letter: str) -> "ChangeType":
        return _STATUS.get(letter[:1].upper(), cls.UNKNOWN)


_STATUS = {
    "A": ChangeType.ADDED,
    "M": ChangeType.MODIFIED,
    "D": ChangeType.DELETED,
    "R": ChangeType.RENAMED,
    "C": ChangeType.COPIED,
    "T": ChangeType.TYPE_CHANGED,
}


@dataclass(frozen=True, slots=True)
class Person:
    """An author or committer, after .mailmap resolution."""

    name: str
    email: str

    @property
    def key(self) -> str:
        """Identity used to count distinct people (e-mail when known, else the name)."""
        return (self.email or self.name).lower()


_CHANGE_TYPES = tuple(ChangeType)
_CHANGE_INDEX = {change: k for k, change in enumerate(_CHANGE_TYPES)}


@dataclass(frozen=True, slots=True, init=False)
class FileChange:
    """One file touched by a commit. ``added``/``deleted`` are line counts (0 for binary files).

    Built as ``FileChange(path, change_type, old_path, language, added, deleted, binary, submodule)``. The change
    type and the two flags are kept in one small int (``packed``): a long report holds one of these per file of
    every commit, and six slots take 80 bytes where eight took 96."""

    path: str
    old_path: str | None
    language: str | None
    added: int
    deleted: int
    packed: int  # the change type's index * 4 + binary * 2 + submodule (a small int: shared by Python)

    def __init__(self, path: str, change_type: ChangeType = ChangeType.MODIFIED, old_path: str | None = None,
                 language: str | None = None, added: int = 0, deleted: int = 0, binary: bool = False,
                 submodule: bool = False) -> None:
        setter = object.__setattr__
        setter(self, "path", path)
        setter(self, "old_path", old_path)
        setter(self, "language", language)
        setter(self, "added", added)
        setter(self, "deleted", deleted)
        # (a str enum: its member and its value are the same key)
        setter(self, "packed", _CHANGE_INDEX[change_type] * 4 + (2 if binary else 0) + (1 if submodule else 0))

    @property
    def change_type(self) -> ChangeType:
        return _CHANGE_TYPES[self.packed >> 2]

    @property
    def binary(self) -> bool:
        return self.packed & 2 != 0

    @property
    def submodule(self) -> bool:
        return self.packed & 1 != 0

    @property
    def churn(self) -> int:
        return self.added + self.deleted


@dataclass(frozen=True)
class FileDiff:
    """One file of a commit with its diff text, as prompt builders and engines see it: plain text, no git objects."""

    path: str
    diff: str = ""
    change_type: str = "modified"
    old_path: str | None = None
    binary: bool = False
    language: str | None = None

    @classmethod
    def of(cls, change: "FileChange", diff: str = "", binary: bool | None = None) -> "FileDiff":
        """The diff of one ``FileChange`` (``diff`` empty when its text is not read)."""
        return cls(path=change.path, diff=diff, change_type=change.change_type.value, old_path=change.old_path,
                   binary=change.binary if binary is None else binary, language=change.language)


@dataclass(frozen=True, slots=True)
class CommitFacts:
    """Everything narrator knows about one commit, computed from git alone.

    Merge commits carry the files of their diff against the first parent, except where ``files_known`` is False:
    a merge read without its diff (a report whose window holds every commit the merge brought in reads no merge
    diff: those commits already say what changed), its ``files`` empty until ``Session.facts`` fills them (the
    cache keeps such facts apart from complete ones).
    """

    sha: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    authored_at: datetime
    committed_at: datetime
    subject: str
    body: str = ""
    trailers: tuple[tuple[str, str], ...] = ()
    co_authors: tuple[Person, ...] = ()
    files: tuple[FileChange, ...] = ()
    is_merge: bool = False
    is_revert: bool = False
    reverted_sha: str | None = None
    is_bot: bool = False
    files_known: bool = True

    def __post_init__(self) -> None:
        # Most commits are authored when they are committed: one datetime object for both times (48 bytes a
        # commit). Only with the same zone object: equal instants in two zones print differently.
        authored, committed = self.authored_at, self.committed_at
        if authored is not committed and authored == committed and authored.tzinfo is committed.tzinfo:
            object.__setattr__(self, "authored_at", committed)

    @property
    def short_sha(self) -> str:
        return self.sha[:10]

    @property
    def lines_added(self) -> int:
        return sum(map(_ADDED, self.files))

    @property
    def lines_deleted(self) -> int:
        return sum(map(_DELETED, self.files))

    @property
    def churn(self) -> int:
        return self.lines_added + self.lines_deleted

    @property
    def people(self) -> tuple[Person, ...]:
        """The author followed by Co-authored-by people (no duplicates)."""
        seen = {self.author.key}
        out = [self.author]
        for person in self.co_authors:
            if person.key not in seen:
                seen.add(person.key)
                out.append(person)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "sha": self.sha,
            "parents": list(self.parents),
            "author": [self.author.name, self.author.email],
            "committer": [self.committer.name, self.committer.email],
            "authored_at": self.authored_at.isoformat(),
            "committed_at": self.committed_at.isoformat(),
            "subject": self.subject,
            "body": self.body,
            "trailers": [list(t) for t in self.trailers],
            "co_authors": [[p.name, p.email] for p in self.co_authors],
            "files": [
                [f.path, f.change_type.value, f.old_path, f.language, f.added, f.deleted, f.binary, f.submodule]
                for f in self.files
            ],
            "is_merge": self.is_merge,
            "is_revert": self.is_revert,
            "reverted_sha": self.reverted_sha,
            "is_bot": self.is_bot,
        }
        if not self.files_known:  # only then: a commit's JSON (``narrate commit``) keeps its shape
            data["files_known"] = False
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CommitFacts":
        """Facts from their cached form; a value of the wrong type (a damaged or tampered row) is a TypeError.

        The checks are inline ``type(x) is`` tests: a warm report decodes every commit of its window."""
        files = []
        for p, ct, op, lang, a, d, b, s in data["files"]:
            if not (type(p) is str and (op is None or type(op) is str) and (lang is None or type(lang) is str)
                    and type(a) is int and type(d) is int and type(b) is bool and type(s) is bool):
                raise TypeError("a file of the wrong shape")
            files.append(FileChange(path=_intern(p), change_type=ChangeType(ct),
                                    old_path=_intern(op) if op is not None else None,
                                    language=_intern(lang) if lang is not None else None, added=a,
                                    deleted=d, binary=b, submodule=s))
        parents = data["parents"]
        committed_at = shared_zone(datetime.fromisoformat(data["committed_at"]))
        authored = data["authored_at"]
        facts = cls(
            sha=_intern(data["sha"]) if type(data["sha"]) is str else data["sha"],
            parents=tuple(_intern(p) if type(p) is str else p for p in parents) if type(parents) is list
            else tuple(parents),
            author=person(*_strs(data["author"], 2)),
            committer=person(*_strs(data["committer"], 2)),
            authored_at=committed_at if authored == data["committed_at"] and type(authored) is str
            else shared_zone(datetime.fromisoformat(authored)),
            committed_at=committed_at,
            subject=data["subject"],
            body=data["body"],
            trailers=tuple(_strs(t, 2) for t in data["trailers"]),
            co_authors=tuple(person(*_strs(p, 2)) for p in data["co_authors"]),
            files=tuple(files),
            is_merge=data["is_merge"],
            is_revert=data["is_revert"],
            reverted_sha=data["reverted_sha"],
            is_bot=data["is_bot"],
            files_known=data.get("files_known", True),
        )
        if not (type(facts.sha) is str and type(facts.subject) is str and type(facts.body) is str
                and type(facts.is_merge) is bool and type(facts.is_revert) is bool and type(facts.is_bot) is bool
                and type(facts.files_known) is bool
                and (facts.reverted_sha is None or type(facts.reverted_sha) is str)
                and all(type(p) is str for p in facts.parents)):
            raise TypeError("a value of the wrong type")
        return facts


# Shared values: a window of 200,000 commits names a few hundred people, zones and languages, and each file
# path many times; one object each keeps the facts of a long window small (interned strings are freed with
# their last user).
_intern = sys.intern


@lru_cache(maxsize=8192)
def person(name: str, email: str) -> Person:
    """The one ``Person`` for this name and e-mail (facts share their authors)."""
    return Person(_intern(name), _intern(email))


@lru_cache(maxsize=256)
def _zone(offset: Any) -> Any:
    return timezone.utc if not offset else timezone(offset)


def shared_zone(when: datetime) -> datetime:
    """``when`` with a timezone object shared by every time of the same UTC offset."""
    tz = when.tzinfo
    if tz is None or tz is timezone.utc:
        return when
    shared = _zone(tz.utcoffset(when))
    return when if shared is tz else when.replace(tzinfo=shared)


# Checks for values read back from the cache (cheap: warm reports decode every commit of the window).
def _str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _str_or_none(value: Any) -> str | None:
    return None if value is None else _str(value)


def _strs(values: Any, count: int) -> tuple[str, ...]:
    if not isinstance(values, list) or len(values) != count:
        raise TypeError(f"expected {count} strings")
    return tuple(_str(v) for v in values)


@dataclass(frozen=True, slots=True)
class Classification:
    """The category and areas a commit belongs to, and which rule decided the category."""

    category: str
    areas: tuple[str, ...]
    rule: str
    breaking: bool = False
    scope: str | None = None
    description: str = ""  # the subject without its Conventional Commits prefix

    @property
    def digest(self) -> str:
        """A short stable id of this classification (see ``Narration.basis``)."""
        import hashlib

        text = "\x1f".join([self.category, *self.areas, str(self.breaking), self.scope or "", self.description])
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Narration:
    """A plain-English account of one commit, from one engine.

    ``source`` is "model" when a model wrote it and "heuristic" when the heuristic engine did, either by
    choice or as the fallback for a rejected model narration (then ``fallback_reason`` says why).
    ``omitted`` lists files the engine was told about but did not read (lockfiles, binaries, budget).
    Heuristic text depends on the commit's classification (category, areas), which depends on config:
    ``basis`` records which classification it was written from, so a cached sentence is rewritten when
    the classification changes.
    """

    sha: str
    text: str
    engine: str
    source: str = "heuristic"
    fallback_reason: str | None = None
    omitted: tuple[str, ...] = ()
    basis: str = ""  # for heuristic text: digest of the classification it was written from

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "text": self.text,
            "engine": self.engine,
            "source": self.source,
            "fallback_reason": self.fallback_reason,
            "omitted": list(self.omitted),
            "basis": self.basis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Narration":
        """A narration from its cached form; a value of the wrong type is a TypeError (the row is recomputed)."""
        omitted = data.get("omitted", ())
        return cls(
            sha=_intern(_str(data["sha"])),
            text=_str(data["text"]),
            engine=_intern(_str(data["engine"])),
            source=_intern(_str(data.get("source", "heuristic"))),
            fallback_reason=_str_or_none(data.get("fallback_reason")),
            # most sentences omit nothing: no generator for an empty list
            omitted=() if type(omitted) is list and not omitted else tuple(_intern(_str(o)) for o in omitted),
            basis=_intern(_str(data.get("basis", ""))),
        )
