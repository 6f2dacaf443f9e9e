"""The judging stage: what the repository says about each commit of a window, and how much it matters.

For every commit: its own evidence (changelog entries and news fragments it adds, code signals in its diff,
security markers, what kinds of files it touches; cached per commit), then what other commits say about it
(entries of a release's changelog commit matched by PR number or text, annotated tag notes), then a score
with reasons (``narrator.evidence.importance``) and the best human description (``describe``). The result is
plain ``Judgment`` data for the report model, one per commit, kept on disk (``app/spool``) and read back in the
window's order: no commit's evidence or judgment stays in memory (``judge``). Diffs are read for at most ``PATCH_LIMIT`` commits per run (those
touching changelogs first, then by shipped-source churn); the others are judged from their message and files.
"""

from __future__ import annotations

import copyreg
import dataclasses
import heapq
import logging
import pickle
import re
import sys
import threading
import types
import typing
from array import array
from operator import attrgetter
from typing import Any, Callable, Iterator, KeysView, Mapping, Sequence

from narrator.app.diff_evidence import DIFFS_AHEAD_FROM, DiffsAhead, commit_evidence, evidence_from_diffs
from narrator.app.session import Session
from narrator.app.spool import Spool
from narrator.evidence import EVIDENCE_VERSION
from narrator.evidence.changelog import ChangelogEntry, changelog_file_kind, tag_entries
from narrator.evidence.commit import CommitEvidence
from narrator.evidence.describe import describe
from narrator.evidence.importance import is_release_notes, score
from narrator.evidence.match import MatchKey, match_entries, match_key, pr_title, significant_words
from narrator.evidence.paths import is_shipped_source
from narrator.evidence.signals import Signal, text_signals
from narrator.evidence.themes import ThemeInput, ThemeWords, theme_groups, theme_input
from narrator.engines.base import Engine
from narrator.git.facts import Classification, CommitFacts
from narrator.git.history import Tag
from narrator.git.patches import read_patches
from narrator.report.model import EntryRef, Judgment, SignalRef, ThemeRef

log = logging.getLogger(__name__)

PATCH_LIMIT = 400  # diffs read per run: every changelog commit, then likely behaviour changes, then by churn
HUMAN_SOURCES = ("changelog", "fragment", "tag")  # descriptions a person wrote for users
_RECORD = "evidence"
# A human changelog section or fragment type decides the category (it beats verbs in the subject).
_KIND_CATEGORY = {"feature": "Features", "bugfix": "Fixes", "security": "Fixes", "performance": "Performance",
                  "doc": "Documentation", "removal": "Features", "deprecation": "Features", "change": "Features"}


# -- cache codec -------------------------------------------------------------------------------------------

_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(ChangelogEntry))
_SIGNAL_FIELDS = tuple(f.name for f in dataclasses.fields(Signal))
_PLAIN_FIELDS = tuple(f.name for f in dataclasses.fields(CommitEvidence) if f.name not in ("entries", "signals"))
_PLAIN_READ = frozenset(_PLAIN_FIELDS) - {"kinds"}  # fields read back as they are
_HINT = re.compile(r"\b(remov|deprecat|default|renam|drop|option|flag|exit|break|security|cve|ghsa|vulnerab)", re.I)


def _to_dict(ev: CommitEvidence) -> dict[str, Any]:
    data = {name: getattr(ev, name) for name in _PLAIN_FIELDS}
    data["entries"] = [{n: getattr(e, n) for n in _ENTRY_FIELDS} for e in ev.entries]
    data["signals"] = [{n: getattr(x, n) for n in _SIGNAL_FIELDS} for x in ev.signals]
    return data


def _from_dict(data: Mapping[str, Any], commit: CommitFacts | None = None) -> CommitEvidence:
    """The evidence from its cached form; ``commit``'s own sha, subject and body objects are reused when the
    record holds the same text (a window's evidence holds no second copy of its messages)."""
    entries = tuple(ChangelogEntry(**{**e, "refs": tuple(e.get("refs", ()))}) for e in data.get("entries", ()))
    signals = tuple(Signal(**s) for s in data.get("signals", ()))
    kinds = tuple((_intern(k) if type(k) is str else str(k), int(n)) for k, n in data.get("kinds", ()))
    plain = {k: v for k, v in data.items() if k in _PLAIN_READ}
    plain["source_paths"] = tuple(_intern(p) if type(p) is str else p for p in plain.get("source_paths", ()))
    if commit is not None:
        for name in ("sha", "subject", "body"):
            if plain.get(name) == getattr(commit, name):
                plain[name] = getattr(commit, name)
    if type(plain.get("category")) is str:
        plain["category"] = _intern(plain["category"])
    evidence = CommitEvidence(**plain, entries=entries, signals=signals, kinds=kinds)
    if not (_VALID[CommitEvidence](evidence) and all(map(_VALID[ChangelogEntry], entries))
            and all(map(_VALID[Signal], signals))):
        raise TypeError("a value of the wrong type")
    return evidence


def _type_test(kind: Any, value: str, depth: int = 0) -> str:
    """A Python expression testing that ``value`` is of the annotated type (str, int, bool, float, X | None,
    tuple[X, ...], tuple[X, Y]); anything else is accepted."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return "(" + " or ".join(_type_test(a, value, depth) for a in args) + ")"
    if kind is type(None):
        return f"{value} is None"
    if origin is tuple:
        item = f"_v{depth}"
        if len(args) == 2 and args[1] is Ellipsis:
            return f"(type({value}) is tuple and all({_type_test(args[0], item, depth + 1)} for {item} in {value}))"
        parts = [_type_test(a, f"{value}[{i}]", depth + 1) for i, a in enumerate(args)]
        return f"(type({value}) is tuple and len({value}) == {len(args)} and " + " and ".join(parts) + ")"
    if kind is float:
        return f"type({value}) in (int, float)"
    if kind in (str, int, bool):
        return f"type({value}) is {kind.__name__}"
    return "True"


def _validator(cls: type) -> Any:
    """A predicate checking every field of a ``cls`` instance read back from the cache against its annotation
    (one generated function: warm reports check every commit's record)."""
    hints = typing.get_type_hints(cls)
    tests = [_type_test(hints[f.name], f"obj.{f.name}") for f in dataclasses.fields(cls)]
    namespace: dict[str, Any] = {}
    exec(f"def valid(obj):\n    return {' and '.join(tests) or 'True'}\n", namespace)  # noqa: S102 - our own annotations
    return namespace["valid"]


# A damaged or tampered record (a list where a category goes, text where a count goes) is ignored and recomputed.
_VALID = {cls: _validator(cls) for cls in (CommitEvidence, ChangelogEntry, Signal)}


# -- the stage ---------------------------------------------------------------------------------------------

def _touches_changelog(commit: CommitFacts) -> bool:
    return any(changelog_file_kind(f.path) for f in commit.files)


def _source_churn(commit: CommitFacts) -> int:
    return sum(f.churn for f in commit.files if is_shipped_source(f.path, f.binary))


_UNREAD = EVIDENCE_VERSION + "+merge-unread"  # records of merges gathered without their files: kept apart
_intern = sys.intern
_READ_CHUNK = 2000  # cached evidence records decoded this many at a time (never a whole window's JSON at once)


def _version(commit: CommitFacts) -> str:
    """The cache version of a commit's evidence record: a merge read without its files
    (``CommitFacts.files_known``) has its record apart, gathered without them too."""
    return EVIDENCE_VERSION if commit.files_known else _UNREAD


def _cached_shas(session: Session, commits: Sequence[CommitFacts]) -> set[str]:
    """The commits with a cached evidence record (the records themselves are read later, a chunk at a time)."""
    if session.cache is None:
        return set()
    cache, key = session.cache, session.repo.key
    found = cache.record_shas(key, _RECORD, EVIDENCE_VERSION, [c.sha for c in commits if c.files_known])
    unread = [c.sha for c in commits if not c.files_known]
    return found | cache.record_shas(key, _RECORD, _UNREAD, unread) if unread else found


def _put_records(session: Session, fresh: Mapping[str, CommitEvidence], commits: Mapping[str, CommitFacts]) -> None:
    """Cache fresh evidence, the JSON of a chunk at a time, each record under its commit's version."""
    cache, key = session.cache, session.repo.key
    if cache is None:
        return
    shas = list(fresh)
    for start in range(0, len(shas), _READ_CHUNK):
        chunk = shas[start:start + _READ_CHUNK]
        for version in (EVIDENCE_VERSION, _UNREAD):
            records = {sha: _to_dict(fresh[sha]) for sha in chunk if _version(commits[sha]) == version}
            if records:
                cache.put_records(key, _RECORD, version, records)


def _patch_key(c: CommitFacts) -> tuple[bool, bool, int] | None:
    """How much a commit's diff is worth reading (smaller first), or None when it never is."""
    # A bot's changelog commit ("Update history to reflect merge of #9759") holds the entries people wrote.
    if c.is_merge:
        return None
    changelog, churn = _touches_changelog(c), _source_churn(c)
    if changelog or (churn and not c.is_bot):
        return (not changelog, not _HINT.search(c.subject), -churn)
    return None


def _patch_shas(missing: Sequence[CommitFacts]) -> list[str]:
    """The commits whose diffs are read (at most ``PATCH_LIMIT``), in the order of ``missing``."""
    keys = [(key, c.sha) for c in missing if (key := _patch_key(c)) is not None]
    keys.sort(key=lambda item: item[0])  # stable: ties keep the order of ``missing``
    chosen = {sha for _, sha in keys[:PATCH_LIMIT]}
    return [c.sha for c in missing if c.sha in chosen]


# A judgment travels to disk and back as the plain tuple of its fields (pickling the dataclass itself runs its
# Python-level state functions: three times slower), and is made a ``Judgment`` again only where it is used.
_JUDGMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Judgment))
_judgment_row = attrgetter(*_JUDGMENT_FIELDS)
_SCORE, _DESCRIPTION, _DESCRIPTION_SOURCE = (_JUDGMENT_FIELDS.index(name) for name in
                                             ("score", "description", "description_source"))


def _by_fields(cls: type) -> None:
    """Pickle ``cls`` (a frozen, slotted dataclass) as a call of its constructor with its fields in order: the
    dataclass's own state functions look its fields up on every object (a warm numpy report under cProfile:
    52,918 nested entries and signals unpickled, about 0.5 s of ``fields`` and ``__setstate__`` calls)."""
    fields = attrgetter(*(f.name for f in dataclasses.fields(cls)))
    copyreg.pickle(cls, lambda obj: (cls, fields(obj)))


for _cls in (ChangelogEntry, Signal, EntryRef, SignalRef, Classification, CommitEvidence):
    _by_fields(_cls)


class _Ahead(typing.NamedTuple):
    """A commit settled and judged while git walked, as kept on disk: its judgment (``_judgment_row``), its
    classification when judging changed it (else None), what judging the window asks of its own evidence, its
    theme words, and that evidence pickled (read only when release notes give the commit more entries)."""

    judgment: tuple
    changed: Classification | None
    touches_source: bool
    source_churn: int
    entries: tuple[ChangelogEntry, ...]
    release_notes: bool
    theme: ThemeInput | None  # its theme words (a work commit's: not a merge's or a bot's)
    evidence: bytes


class JudgedAhead:
    """The judging a report can do while git is still walking its window (``Session.facts(on_read=...)``): each
    batch of commits read is classified, each commit's own evidence gathered from its files (a merge's without
    them, as git read it) and its judgment made as if no other commit's changelog named it; its theme words and
    matching keys are worked out and (offline engine) its sentence cached. What is made of a settled commit is
    kept on disk (``_Ahead`` records in a ``Spool``), not in memory; ``judge`` reads it back in the window's order
    (the same values, so the same results as judging after the walk) and redoes only what the whole window
    changes: evidence from the diffs it chooses to read, entries matched from release notes, merges whose files
    are read after the walk (``as_walked``).

    Evidence of a commit that can no longer be among the ``PATCH_LIMIT`` diffs to read (``_patch_key``: a
    running best list, in the window's order, as ``_patch_shas`` ranks) is final: cached at once. The others wait
    for the choice; past ``DIFFS_AHEAD_FROM`` of the walk (``window``: the commits it will read) their diffs are
    read meanwhile (``app/diff_evidence.DiffsAhead``). Merges' sentences wait for the walk: they name the work
    each merge brought in."""

    def __init__(self, session: Session, prepare: Callable[[list[CommitFacts]], list[CommitFacts]],
                 engine: Engine | None = None, window: int = 0) -> None:
        self._session = session
        # narrates the commits judged ahead into the cache (an offline engine: a model waits for the walk; without
        # a cache, the sentences wait too: the cache is where they are handed over, not held for the whole walk)
        self._engine = engine if session.cache is not None else None
        self.narrated = 0  # sentences made here (not found in the cache): the report does not count them cached
        self._prepare = prepare  # the walk's own preparation: bots marked (no filter: filters disable this)
        self.classes: dict[str, Classification] = {}
        # gathered from files (missing from the cache at the walk), not settled yet: at most PATCH_LIMIT or so
        self.evidence: dict[str, CommitEvidence] = {}
        # the settled commits (cached already, never to be read from a diff), judged: on disk, by sha
        self._spool = Spool()
        self._records: dict[str, int] = {}
        self.match_keys: dict[str, MatchKey] = {}  # of the commits read (from their messages alone)
        self._changelogs = False  # whether a commit read so far touched a changelog
        self._best: list[tuple[tuple[bool, bool, int], int, str]] = []  # max-heap by (key, order), negated
        self._waiting: dict[str, CommitFacts] = {}  # gathered, not yet settled (at most PATCH_LIMIT)
        self._order = 0
        self._window = window
        self._walked = 0
        self.diffs = DiffsAhead(session.repo) if window else None
        self._internal = session.is_internal_python

    def __call__(self, batch: list[CommitFacts]) -> None:
        plain = self._prepare(batch)
        classes = self._session.classify(plain)
        self.classes.update(classes)
        # what matching release notes needs of each commit (merges too: a pull request's number), once the
        # window shows a changelog (a history without one never matches: its keys would only take memory)
        self._changelogs = self._changelogs or any(_touches_changelog(c) for c in plain)
        if self._changelogs:
            for c in plain:
                self.match_keys[c.sha] = match_key(c)
        cached = _cached_shas(self._session, plain)
        settled: list[CommitFacts] = []
        for c in plain:
            if c.sha in cached:
                continue
            self.evidence[c.sha] = commit_evidence(c, classes[c.sha])
            self._waiting[c.sha] = c
            settled.extend(self._waiting.pop(sha) for sha in self._rank(c))
        if settled:
            _put_records(self._session, {c.sha: self.evidence[c.sha] for c in settled}, {c.sha: c for c in settled})
        self._walked += len(batch)
        if self.diffs is not None:
            for c in settled:
                self.diffs.drop(c.sha)
            if self._walked >= self._window * DIFFS_AHEAD_FROM:
                self.diffs.ask((c, self.classes[c.sha]) for c in self._waiting.values())
        made: dict[str, tuple[Judgment, CommitEvidence, Classification]] = {}
        for c in settled:
            ev = self.evidence.pop(c.sha)
            cl = self.classes[c.sha]
            judgment, judged_ev, judged_cl = made[c.sha] = _judge_one(c, ev, cl, (), self._internal)
            self._records[c.sha] = self._spool.append(_Ahead(
                _judgment_row(judgment), None if judged_cl is cl else judged_cl, ev.touches_source,
                ev.source_churn, ev.entries, is_release_notes(ev),
                # the work themes are found among
                theme_input(judged_ev) if not c.is_merge and not c.is_bot else None,
                pickle.dumps(ev, pickle.HIGHEST_PROTOCOL)))
        if self._engine is not None:
            self._narrate([c for c in settled if not c.is_merge], made)  # a merge's sentence waits for its branch

    def narrate_merges(self, commits: Sequence[CommitFacts], classes: Mapping[str, Classification],
                       descriptions: Mapping[str, str]) -> None:
        """Sentences for the window's merges once the walk is over (``descriptions``: the work each brought in),
        before judging: judging leaves a merge's classification as it is, and ``Session.narrate`` redoes any
        sentence whose classification it changed."""
        merges = [c for c in commits if c.is_merge]
        if self._engine is None or not merges:
            return
        self._say(merges, classes, descriptions)

    def _narrate(self, commits: list[CommitFacts], made: Mapping[str, tuple[Judgment, CommitEvidence,
                                                                          Classification]]) -> None:
        """Sentences for commits judged ahead, from their judgment as it stands (``Session.narrate`` redoes any
        whose classification or description the whole window changes)."""
        classes = {c.sha: made[c.sha][2] for c in commits}
        descriptions = {c.sha: j.description for c in commits if (j := made[c.sha][0]).description
                        and j.description_source in HUMAN_SOURCES}
        self._say(commits, classes, descriptions)

    def _say(self, commits: Sequence[CommitFacts], classes: Mapping[str, Classification],
             descriptions: Mapping[str, str]) -> None:
        # the missing sentences are made and cached now; none is read back (the report reads them all later, and
        # remakes there any whose classification or description the whole window changed)
        narrations = self._session.narrations(commits, classes, self._engine, descriptions, show_progress=False)
        self.narrated += len(commits) - narrations.stats["cached"]

    @staticmethod
    def as_walked(c: CommitFacts) -> bool:
        """Whether this commit is as the walk read it (a merge whose files were read after the walk was judged
        ahead without them): what was made of it ahead still holds."""
        return not (c.is_merge and c.files_known)

    @property
    def final(self) -> KeysView[str]:
        """The commits settled so far: their evidence cached, never to be read from a diff, and judged."""
        return self._records.keys()

    def settled(self, c: CommitFacts) -> bool:
        """Whether this commit was settled and judged ahead, and that still holds (``as_walked``)."""
        return c.sha in self._records and self.as_walked(c)

    def holds(self, c: CommitFacts) -> bool:
        """Whether evidence gathered ahead (settled or still waiting for the choice of diffs) holds for it."""
        return (c.sha in self._records or c.sha in self.evidence) and self.as_walked(c)

    def record(self, c: CommitFacts) -> _Ahead:
        """What was kept of a settled commit (``_Ahead``), read back from disk."""
        return _Ahead(*self._spool.get(self._records[c.sha]))

    def close(self) -> None:
        """Judged: what was kept on disk goes."""
        self._spool.close()
        self._records.clear()
        self.evidence.clear()

    def _rank(self, c: CommitFacts) -> list[str]:
        """The commits whose evidence this one settles: itself when its diff will never be read, or the one it
        pushes out of the running best ``PATCH_LIMIT``."""
        key = _patch_key(c)
        if key is None:
            return [c.sha]
        self._order += 1
        entry = ((not key[0], not key[1], -key[2]), -self._order, c.sha)  # the worst at the top of the heap
        if len(self._best) < PATCH_LIMIT:
            heapq.heappush(self._best, entry)
            return []
        pushed_out = heapq.heappushpop(self._best, entry)
        return [pushed_out[2]]


class PatchPrefetch:
    """The diffs judging will read (``shas``), asked of git right after the walk, so that git computes them on
    another core while the merges' sentences are made: those not read during the walk already (``reading``).
    Decided from the facts and the evidence cache alone; ``local_evidence`` uses them when it wants exactly these
    commits (a damaged cache record changes the list: it then reads its own)."""

    def __init__(self, session: Session, commits: Sequence[CommitFacts], ahead: JudgedAhead | None = None) -> None:
        missing = _missing(session, commits, ahead)
        self.commits = commits
        self.missing = [c.sha for c in missing]
        self.shas = _patch_shas(missing)
        read_ahead = ahead.diffs.asked() if ahead is not None and ahead.diffs is not None else set()
        self.reading = [sha for sha in self.shas if sha not in read_ahead]
        self._texts: list[tuple[str, str]] = []
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if self.reading:
            self._thread = threading.Thread(target=self._read, args=(session,), name="narrator-patches", daemon=True)
            self._thread.start()

    def _read(self, session: Session) -> None:
        try:
            self._texts.extend(read_patches(session.repo, self.reading))
        except BaseException as exc:  # handed to the caller of texts(), in the main thread
            self._error = exc

    def texts(self) -> list[tuple[str, str]]:
        """The diffs read (once: handed over, so the report does not keep up to 400 diffs while it is built)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        texts, self._texts = self._texts, []
        return texts


def _missing(session: Session, commits: Sequence[CommitFacts], ahead: JudgedAhead | None) -> list[CommitFacts]:
    """The commits whose evidence is neither settled ahead nor cached (a record that exists but cannot be read
    is made again when it is met: ``WindowEvidence``)."""
    cached = _cached_shas(session, [c for c in commits if not (ahead is not None and ahead.holds(c))])
    return [c for c in commits if not (ahead is not None and ahead.settled(c)) and c.sha not in cached]


class WindowEvidence:
    """Each commit's own evidence (from its message and diff alone), in the window's order, never all held.

    Made at once only for the commits that have none yet (``missing``: neither settled while git walked nor
    cached), reading the diffs this run chooses (``PATCH_LIMIT``); the others are read back when they are met:
    a settled commit's from ``JudgedAhead``'s records on disk (with the judgment made of it then), a cached
    one's from the cache, ``_READ_CHUNK`` records at a time. A cached record that cannot be read (damaged or
    tampered) is made again as if it had never been cached (``_remade``)."""

    def __init__(self, session: Session, commits: Sequence[CommitFacts], classes: Mapping[str, Classification],
                 prefetch: PatchPrefetch | None = None, ahead: JudgedAhead | None = None) -> None:
        self._session, self._commits, self._classes, self._ahead = session, commits, classes, ahead
        self._diffs_left = PATCH_LIMIT  # diffs read for commits whose cached record could not be read
        if prefetch is not None and prefetch.commits is commits:  # it asked the cache already, after the walk
            unknown = set(prefetch.missing)
            missing = [c for c in commits if c.sha in unknown]
        else:
            missing = _missing(session, commits, ahead)
        self.fresh = self._made(missing, prefetch) if missing else {}
        if ahead is not None:
            ahead.evidence.clear()  # what still held is in ``fresh`` now

    def _made(self, missing: list[CommitFacts], prefetch: PatchPrefetch | None) -> dict[str, CommitEvidence]:
        session, classes, ahead = self._session, self._classes, self._ahead
        early = {c.sha: ahead.evidence[c.sha] for c in missing if c.sha in ahead.evidence and ahead.as_walked(c)} \
            if ahead is not None else {}
        by_sha = {c.sha: c for c in missing}
        if prefetch is not None and prefetch.missing == [c.sha for c in missing]:
            wanted = prefetch.shas  # the same commits to read: the same choice
        else:
            wanted = _patch_shas(missing)
        # diffs read while git walked, made into evidence with the classification judged here
        made_ahead = ahead.diffs.finish() if ahead is not None and ahead.diffs is not None else {}
        patched = {sha: made_ahead[sha][0] for sha in wanted
                   if sha in made_ahead and made_ahead[sha][1] is classes[sha]}
        unread = [sha for sha in wanted if sha not in patched]
        if unread:
            session.progress.start("Reading changes", len(unread))
            try:
                if prefetch is not None and prefetch.shas == wanted and set(prefetch.reading) <= set(unread):
                    rest = set(unread) - set(prefetch.reading)  # asked ahead and not made there (a failed read)
                    texts = [*prefetch.texts(), *(read_patches(session.repo, [s for s in unread if s in rest])
                                                  if rest else ())]
                else:
                    texts = read_patches(session.repo, unread)
                patched.update(evidence_from_diffs(session.repo, [(by_sha[sha], classes[sha]) for sha in unread],
                                                   texts, on_parsed=session.progress.advance))
            finally:
                session.progress.stop()
        fresh: dict[str, CommitEvidence] = {}
        for c in missing:
            if c.sha in patched:
                fresh[c.sha] = patched[c.sha]
            elif c.sha in early:  # gathered from its files ahead, as here
                fresh[c.sha] = early[c.sha]
            else:
                fresh[c.sha] = commit_evidence(c, classes[c.sha])
        if session.cache is not None:
            _put_records(session, fresh, by_sha)
        return fresh

    def __iter__(self) -> Iterator[tuple[CommitFacts, CommitEvidence | None, _Ahead | None]]:
        """(commit, its evidence, None) for every commit, in order; (commit, None, what was kept of it) for one
        settled and judged while git walked (its evidence is read only if wanted: ``get``)."""
        commits, ahead, fresh = self._commits, self._ahead, self.fresh
        for start in range(0, len(commits), _READ_CHUNK):
            chunk = commits[start:start + _READ_CHUNK]
            stored = [c for c in chunk if c.sha not in fresh and not (ahead is not None and ahead.settled(c))]
            found = self._stored(stored)
            for c in chunk:
                if c.sha in fresh:
                    yield c, fresh[c.sha], None
                elif ahead is not None and ahead.settled(c):
                    yield c, None, ahead.record(c)
                else:
                    yield c, found[c.sha], None

    def get(self, c: CommitFacts) -> CommitEvidence:
        """One commit's evidence, as iterating gives it."""
        if c.sha in self.fresh:
            return self.fresh[c.sha]
        if self._ahead is not None and self._ahead.settled(c):
            return pickle.loads(self._ahead.record(c).evidence)
        return self._stored([c])[c.sha]

    def _stored(self, commits: Sequence[CommitFacts]) -> dict[str, CommitEvidence]:
        """The cached evidence of these commits; a record that cannot be read is made again, and cached."""
        records = self._records(commits)
        found: dict[str, CommitEvidence] = {}
        damaged: list[CommitFacts] = []
        for c in commits:
            evidence = self._cached(c, records.get(c.sha))
            if evidence is None:
                damaged.append(c)
            else:
                found[c.sha] = evidence
        if damaged:
            found.update(self._remade(damaged))
        return found

    def _remade(self, commits: list[CommitFacts]) -> dict[str, CommitEvidence]:
        """Evidence for commits whose cached record could not be read, as if it had never been cached: from the
        diff when it is worth reading (``_patch_key``; at most ``PATCH_LIMIT`` such diffs a run, in one git
        process a chunk), else from the files."""
        session, classes = self._session, self._classes
        wanted = [c for c in commits if _patch_key(c) is not None][:max(0, self._diffs_left)]
        self._diffs_left -= len(wanted)
        made = evidence_from_diffs(session.repo, [(c, classes[c.sha]) for c in wanted],
                                   read_patches(session.repo, [c.sha for c in wanted])) if wanted else {}
        remade = {c.sha: made.get(c.sha) or commit_evidence(c, classes[c.sha]) for c in commits}
        _put_records(session, remade, {c.sha: c for c in commits})
        return remade

    def _records(self, commits: Sequence[CommitFacts]) -> dict[str, Any]:
        cache = self._session.cache
        if cache is None or not commits:
            return {}
        key = self._session.repo.key
        records = cache.get_records(key, _RECORD, EVIDENCE_VERSION, [c.sha for c in commits if c.files_known])
        unread = [c.sha for c in commits if not c.files_known]
        if unread:
            records.update(cache.get_records(key, _RECORD, _UNREAD, unread))
        return records

    def _cached(self, c: CommitFacts, data: Any) -> CommitEvidence | None:
        """A cached record as evidence, with what the classifier and the bot list say today (config changes);
        None when there is none or it cannot be read."""
        cl = self._classes[c.sha]
        if data is None:
            return None
        try:
            evidence = _from_dict(data, c)
        except (TypeError, ValueError, KeyError, AttributeError):
            log.debug("ignoring a damaged evidence record for %s", c.sha)
            return None
        if evidence.sha != c.sha:
            log.debug("ignoring a damaged evidence record for %s (it names another commit)", c.sha)
            return None
        if (evidence.category, evidence.breaking, evidence.is_merge, evidence.is_revert, evidence.is_bot) != (
                cl.category, cl.breaking, c.is_merge, c.is_revert, c.is_bot):
            evidence = dataclasses.replace(evidence, category=cl.category, breaking=cl.breaking,
                                           is_merge=c.is_merge, is_revert=c.is_revert, is_bot=c.is_bot)
        return evidence


def local_evidence(session: Session, commits: Sequence[CommitFacts], classes: Mapping[str, Classification],
                   prefetch: PatchPrefetch | None = None, ahead: JudgedAhead | None = None
                   ) -> dict[str, CommitEvidence]:
    """Every commit's own evidence at once, by sha (``WindowEvidence`` gathered into a dict: for a short window)."""
    evidence = WindowEvidence(session, commits, classes, prefetch, ahead)
    return {c.sha: ev if ev is not None else evidence.get(c) for c, ev, _ in evidence}


def own_category(evidence: CommitEvidence, classification: Classification, release_notes: bool = False) -> Classification:
    """The category a commit's changelog entry names (a human's section beats the subject's verb); a commit of
    release notes (``release_notes``: its entries describe other commits) is documentation, whatever they say."""
    kinds = [e.kind for e in evidence.entries if e.kind in _KIND_CATEGORY and e.source in ("changelog", "fragment")]
    if not kinds and not release_notes and classification.rule == "fallback" and evidence.touches_source \
            and any(e.source in ("changelog", "fragment") for e in evidence.entries):
        # flask's "all teardown callbacks are called despite errors" names no kind of work, but its author wrote a
        # changelog entry for users and changed shipped code: a change for users, not upkeep
        return dataclasses.replace(classification, category="Features", rule="changelog: entry for users")
    if not kinds or classification.category in ("Merges", "Reverts"):
        return classification
    if release_notes:  # "Update changelog": its entries are other commits' work
        if classification.category in ("Features", "Fixes", "Performance"):
            return dataclasses.replace(classification, category="Documentation", rule="changelog: release notes")
        return classification
    category = _KIND_CATEGORY[kinds[0]]
    if category == classification.category:
        return classification
    return dataclasses.replace(classification, category=category, rule=f"changelog: {kinds[0]}")


_BREAKING_CHURN = 20  # shipped-source lines from which a "!" or BREAKING CHANGE is believed without other evidence


_PACKAGE_METADATA = re.compile(r"(^|/)(pyproject\.toml|setup\.py|setup\.cfg|package\.json|[^/]*\.gemspec|go\.mod|"
                               r"composer\.json|Cargo\.toml|pom\.xml|build\.gradle(\.kts)?)$")


def _breaks_users(ev: CommitEvidence, commit: CommitFacts) -> bool:
    """Whether a "!" or BREAKING CHANGE can reach users: a changelog entry, a code signal, real shipped-source
    change, or the package's own metadata (supported versions, entry points); not CI or release scripts alone."""
    behaviour = any(x.where == "source" and x.kind not in ("security",) for x in ev.signals)
    metadata = any(_PACKAGE_METADATA.search(f.path) for f in commit.files)
    return bool(ev.entries) or behaviour or metadata or ev.source_churn >= _BREAKING_CHURN


_BRANCH_LIMIT = 50  # commits a pull request's branch may bring in; more is a long-lived branch, not one change


def _mainline(commits: Sequence[CommitFacts], by_sha: Mapping[str, CommitFacts]) -> set[str]:
    """The window's first-parent chains from its tips (the branch being reported, as git log --first-parent)."""
    parents = {p for c in commits for p in c.parents}
    chain: set[str] = set()
    for tip in (c for c in commits if c.sha not in parents):
        sha: str | None = tip.sha
        while sha is not None and sha in by_sha and sha not in chain:
            chain.add(sha)
            sha = by_sha[sha].parents[0] if by_sha[sha].parents else None
    return chain


def brought_in(merge: CommitFacts, by_sha: Mapping[str, CommitFacts], mainline: set[str]) -> list[CommitFacts]:
    """The commits a merge brought in (reachable from its other parents, down to the mainline), within the
    window; empty when that is more than ``_BRANCH_LIMIT`` (a long-lived branch is not one change)."""
    seen: set[str] = set()
    stack = [p for p in merge.parents[1:] if p in by_sha and p not in mainline]
    while stack:
        sha = stack.pop()
        if sha in seen:
            continue
        seen.add(sha)
        if len(seen) > _BRANCH_LIMIT:
            return []
        stack.extend(p for p in by_sha[sha].parents if p in by_sha and p not in mainline and p not in seen)
    return [by_sha[s] for s in sorted(seen, key=lambda s: (by_sha[s].committed_at, s))]  # ties: one order, any run


_NAMED_WORK = 3  # a merge's sentence names the branch commits it brought in when there are at most this many


def merge_work(commits: Sequence[CommitFacts]) -> dict[str, str]:
    """For each merge of the window that brought in one to three commits of its own (not merges, not bots): their
    subjects, one per line, oldest first (the heuristic sentence names them: "Merged work from another branch:
    “request context tracks session access” and “start version 3.1.3”.")."""
    merges = [c for c in commits if c.is_merge]
    if not merges:
        return {}
    by_sha = {c.sha: c for c in commits}
    mainline = _mainline(commits, by_sha)
    found: dict[str, str] = {}
    for merge in merges:
        work = [c for c in brought_in(merge, by_sha, mainline) if not c.is_merge and not c.is_bot]
        if 0 < len(work) <= _NAMED_WORK:
            found[merge.sha] = "\n".join(c.subject for c in work)
    return found


def _give_merged_work(matched: dict[str, list[ChangelogEntry]], commits: Sequence[CommitFacts],
                      by_sha: Mapping[str, CommitFacts], local: Mapping[str, Any]) -> None:
    """A changelog entry that cites a pull request matches its merge commit; the work is in the commits the merge
    brought in. Each such entry is also given to the one commit of the branch it describes best: the most
    words in common with the entry, then the most shipped source changed (a branch's "fix typo" is not it).
    ``local``: each commit's own evidence by sha (what of it is read: ``touches_source``, ``entries``,
    ``source_churn``)."""
    merges = [c for c in commits if c.is_merge and matched.get(c.sha)]
    if not merges:
        return
    mainline = _mainline(commits, by_sha)
    for merge in merges:
        branch = [c for c in brought_in(merge, by_sha, mainline) if not c.is_merge and not c.is_bot
                  and local[c.sha].touches_source]
        if not branch:
            continue
        for entry in matched[merge.sha]:
            if any(entry in matched.get(c.sha, ()) or entry in local[c.sha].entries for c in branch):
                continue
            words = significant_words(entry.text)
            best = max(branch, key=lambda c: (len(words & significant_words(pr_title(c.subject, c.body))),
                                              local[c.sha].source_churn, c.committed_at))
            matched.setdefault(best.sha, []).append(entry)


_API_CHANGES = frozenset({"api_removed", "api_renamed"})


def _judge_one(c: CommitFacts, local: CommitEvidence, classification: Classification,
               extra: Sequence[ChangelogEntry], internal: Callable[[str], bool] | None = None
               ) -> tuple[Judgment, CommitEvidence, Classification]:
    """One commit's judgment from its own evidence and the entries other commits wrote about it (``extra``),
    with its evidence and classification as the judgment leaves them (``classification`` itself when unchanged).
    ``internal``: which Python files are internal code (``Session.is_internal_python``): a function removed or
    renamed there is no behaviour change for users."""
    ev = local
    if internal is not None and any(s.kind in _API_CHANGES for s in ev.signals):
        kept = tuple(s for s in ev.signals if not (s.kind in _API_CHANGES and s.language == "Python"
                                                   and internal(s.path)))
        if len(kept) != len(ev.signals):
            ev = dataclasses.replace(ev, signals=kept)
    if extra:
        entries = ev.entries + tuple(extra)
        code = tuple(s for s in ev.signals if s.where in ("source", "docs"))
        ev = dataclasses.replace(ev, entries=entries, signals=code + text_signals(c.subject, c.body, entries))
    cl = own_category(ev, classification, is_release_notes(local))
    if ev.comments_only and not ev.entries and cl.category in ("Features", "Fixes", "Performance", "Refactoring"):
        # "fix: setCacheHas JSDoc return type should be boolean" changes what the docs say, not what runs
        cl = dataclasses.replace(cl, category="Documentation", rule="diff: comments only")
    if cl.breaking and not _breaks_users(ev, c):
        # "feat!: streamline the release process" says breaking, but nothing users run or read changed
        cl = dataclasses.replace(cl, breaking=False)
        ev = dataclasses.replace(ev, breaking=False)
    if cl is not classification:
        ev = dataclasses.replace(ev, category=cl.category)
    s = score(ev)
    d = describe(c.subject, c.body, ev.entries, is_merge=c.is_merge)
    judgment = Judgment(
        score=s.value, tier=s.tier, reasons=tuple(map(_intern, s.reasons)), description=d.text,
        description_source=d.source, refs=tuple(d.refs),
        entries=tuple(EntryRef(e.text, e.kind or "", e.section or "", e.version or "", e.path, e.line, e.source)
                      for e in ev.entries),
        signals=tuple(SignalRef(x.kind, x.name, x.path, x.line, x.text, x.where, x.strength) for x in ev.signals),
        shipped_source=ev.touches_source, tests_touched=ev.tests_touched,
    )
    return judgment, ev, cl


class _Own(typing.NamedTuple):
    """What matching release notes asks of a commit's own evidence (``_give_merged_work``)."""

    touches_source: bool
    entries: tuple[ChangelogEntry, ...]
    source_churn: int


class _OwnByPosition(Mapping[str, _Own]):
    """The window's commits by sha (``position``), and their own evidence's few facts that matching needs, kept
    as arrays while the evidence itself is read once and let go."""

    def __init__(self, commits: Sequence[CommitFacts]) -> None:
        self._commits = commits
        self.position = {c.sha: k for k, c in enumerate(commits)}
        self.touches = bytearray(len(commits))
        self.churn = array("q", bytes(8 * len(commits)))
        self.entries: dict[int, tuple[ChangelogEntry, ...]] = {}  # only the commits that have any

    def note(self, k: int, touches_source: bool, source_churn: int, entries: tuple[ChangelogEntry, ...]) -> None:
        self.touches[k] = touches_source
        self.churn[k] = source_churn
        if entries:
            self.entries[k] = entries

    def __getitem__(self, sha: str) -> _Own:
        k = self.position[sha]
        return _Own(bool(self.touches[k]), self.entries.get(k, ()), self.churn[k])

    def __iter__(self) -> Iterator[str]:
        return iter(self.position)

    def __len__(self) -> int:
        return len(self.position)


class _CommitsBySha(Mapping[str, CommitFacts]):
    """The window's commits by sha, through their positions (no second table of the window)."""

    def __init__(self, commits: Sequence[CommitFacts], position: Mapping[str, int]) -> None:
        self._commits, self._position = commits, position

    def __getitem__(self, sha: str) -> CommitFacts:
        return self._commits[self._position[sha]]

    def __contains__(self, sha: object) -> bool:
        return sha in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class Judged:
    """The judging stage's result: every commit's ``Judgment``, read back in the window's order (kept on disk
    while the report is made: ``Spool``), the themes among them, the classifications judging changed (only
    those), and the descriptions people wrote for users (``HUMAN_SOURCES``) of the commits that are no merges."""

    def __init__(self, spool: Spool, themes: list[ThemeRef], changed: dict[str, Classification],
                 descriptions: dict[str, str]) -> None:
        self._spool = spool
        self.themes, self.changed, self.descriptions = themes, changed, descriptions

    def __len__(self) -> int:
        return len(self._spool)

    def __iter__(self) -> Iterator[Judgment]:
        for row in self._spool:
            yield Judgment(*row)

    def close(self) -> None:
        self._spool.close()


def _sections(ev: CommitEvidence) -> tuple[str, ...]:
    return tuple(e.section for e in ev.entries if e.section)


def judge(session: Session, commits: Sequence[CommitFacts], classes: Mapping[str, Classification],
          tags: Sequence[Tag] = (), prefetch: PatchPrefetch | None = None, ahead: JudgedAhead | None = None
          ) -> Judged:
    """Judgments for these commits, the themes among them, and the classifications their changelog entries change
    (only those: the caller's ``classes`` hold the others; ``ahead``: what was judged while git walked, whose
    classifications ``classes`` must then hold).

    Two passes in the window's order. The first reads each commit's evidence once (``WindowEvidence``) and keeps
    what matching needs: the entries of release notes, and per commit a few numbers (``_OwnByPosition``); the
    evidence itself goes to disk (a commit judged while git walked has its record there already). Entries that
    release notes and tag notes give to other commits are matched then, and the second pass judges every commit
    once, with them (or takes the judgment made while git walked, when nothing was added), keeping its score and
    theme words for the themes. No commit's evidence or judgment stays in memory: judgments go to disk too, and
    are read back in order beside the sentences."""
    try:
        evidence = WindowEvidence(session, commits, classes, prefetch, ahead)
        internal = session.is_internal_python
        own = _OwnByPosition(commits)
        release_entries: list[ChangelogEntry] = []
        # pass 1: what matching needs of every commit; its evidence goes to disk (None: judged ahead, kept there)
        pending = Spool()
        for k, (c, ev, made) in enumerate(evidence):
            if made is not None:
                own.note(k, made.touches_source, made.source_churn, made.entries)
                if made.release_notes:
                    release_entries.extend(made.entries)
                pending.append(None)
                continue
            own.note(k, ev.touches_source, ev.source_churn, ev.entries)
            if ev.entries and is_release_notes(ev):
                release_entries.extend(ev.entries)
            pending.append(ev)
        # Entries written elsewhere: a release's changelog commit (entries, no shipped source) and tag notes.
        for tag in tags:
            if tag.notes:
                release_entries.extend(tag_entries(tag.name, tag.notes))
        matched: dict[str, list[ChangelogEntry]] = {}
        if release_entries:
            # who an entry may describe: shipped source, a pull request's merge, or the package's own metadata
            # ("Add json as runtime_dependency" changes only jekyll.gemspec, and users install it)
            candidates = [c for k, c in enumerate(commits) if own.touches[k] or c.is_merge
                          or (not c.is_bot and any(_PACKAGE_METADATA.search(f.path) for f in c.files))]
            for m in match_entries(release_entries, candidates, ahead.match_keys if ahead is not None else None):
                matched.setdefault(m.sha, []).append(m.entry)
            del candidates
            _give_merged_work(matched, commits, _CommitsBySha(commits, own.position), own)
        if ahead is not None:
            ahead.match_keys.clear()
        del release_entries
        # pass 2: every commit judged once, in order, with what other commits say of it
        spool = Spool()
        changed: dict[str, Classification] = {}  # not a copy of ``classes``: a long window's is megabytes
        descriptions: dict[str, str] = {}
        work_at = array("q")  # the positions of the work commits (not merges, not bots): themes are found there
        inputs = ThemeWords()
        scores = array("d")
        sections: dict[int, tuple[str, ...]] = {}  # by index among the work commits
        for k, (c, row) in enumerate(zip(commits, pending)):
            entries = own.entries.get(k, ())
            extra = [e for e in matched.get(c.sha, ()) if e not in entries]
            if row is None and not extra:  # judged while git walked, from its own evidence: nothing was added
                made = ahead.record(c)  # type: ignore[union-attr]
                judgment, cl, words = made.judgment, made.changed, made.theme
                found = tuple(e.section for e in entries if e.section)
            else:
                ev = row if row is not None else pickle.loads(ahead.record(c).evidence)  # type: ignore[union-attr]
                made_now, judged_ev, judged_cl = _judge_one(c, ev, classes[c.sha], extra, internal)
                judgment = _judgment_row(made_now)
                cl = None if judged_cl is classes[c.sha] else judged_cl
                found = _sections(judged_ev)
                words = None if c.is_merge or c.is_bot else theme_input(judged_ev)
            spool.append(judgment)
            if cl is not None:
                changed[c.sha] = cl
            if judgment[_DESCRIPTION_SOURCE] in HUMAN_SOURCES and judgment[_DESCRIPTION] and not c.is_merge:
                descriptions[c.sha] = judgment[_DESCRIPTION]
            if c.is_merge or c.is_bot:
                continue
            if found:
                sections[len(work_at)] = found
            work_at.append(k)
            inputs.append(words)
            scores.append(judgment[_SCORE])
        pending.close()
        found_themes = [ThemeRef(t.name, tuple(t.shas), t.section or "", t.score)
                        for t in theme_groups([commits[k].sha for k in work_at], inputs, scores, sections)]
        return Judged(spool, found_themes, changed, descriptions)
    finally:
        if ahead is not None:
            ahead.close()
