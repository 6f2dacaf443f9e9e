"""Pure aggregation: commit facts + classifications + narrations -> the report's content model.

No I/O, no git, no engines: everything here is a function of its arguments, so it is easy to test and
the same model feeds every format (Markdown, HTML, terminal, JSON, user templates).
Every sentence built here uses only computed facts and narrations.
"""

from __future__ import annotations

import gc
import json
import math
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Iterable, Iterator, Mapping, Sequence

from narrator import categories as category_table
from narrator.git.classify import DOCS_AREA, ROOT_AREA, TESTS_AREA, TOOLING_AREA, is_source_path, is_test_path
from narrator.evidence.sharing import shared
from narrator.evidence.importance import RELEASE_NOTES_REASON
from narrator.evidence.paths import is_shipped_source
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.report.spill import Entries, EntryStore
from narrator.report.text import day_label, join_words as _join, one_line, plural

SCHEMA_VERSION = 1
SPILL_FROM = 2000  # windows of this many commits or more keep their commit entries on disk (``spill``)
_DELIVERED = set(category_table.DELIVERED)
_SUPPORT_AREAS = {ROOT_AREA, DOCS_AREA, TESTS_AREA, TOOLING_AREA}
_AREA_WORDS = {ROOT_AREA: "the top-level files", DOCS_AREA: "the documentation", TESTS_AREA: "the tests",
               TOOLING_AREA: "the build and tooling files"}

WORK_CATEGORY_ORDER = list(category_table.WORK_ORDER)
# Merges that bring in a reviewed contribution (as opposed to syncing one branch into another).
_PR_MERGE = re.compile(
    r"^Merge (pull request|PR) #\d+|^Merge branch '[^']+' into '[^']+'|\(#\d+\)$|^Merge commit from fork", re.I)


@dataclass(frozen=True)
class Thresholds:
    large_change_lines: int = 400
    hotspot_min_commits: int = 5
    fix_share_warning: float = 0.5
    highlights: int = 6
    bot_share_warning: float = 0.3
    concentration_share: float = 0.6
    concentration_min_commits: int = 10


@dataclass(frozen=True, slots=True)
class EntryRef:
    """A changelog entry, news fragment or tag note that describes a commit."""

    text: str
    kind: str  # feature, bugfix, change, removal, deprecation, security, performance, doc, packaging, misc, ""
    section: str
    version: str
    file: str
    line: int
    source: str  # changelog, fragment, tag


@dataclass(frozen=True, slots=True)
class SignalRef:
    """A piece of code or text evidence: what it is, the name it is about, and where it shows."""

    kind: str  # api_removed, option_removed, default_changed, exit_code_changed, deprecation_added, security, ...
    name: str
    file: str
    line: int
    text: str
    where: str  # source, docs, subject, body, changelog, tag
    strength: str  # strong, weak


@dataclass(frozen=True, slots=True)
class Judgment:
    """How much a commit matters and why (computed by the judging stage from the repository's own evidence)."""

    score: float
    tier: str  # security, behaviour, feature, notable, fix, performance, code, docs, refactor, tests, upkeep
    reasons: tuple[str, ...]
    description: str  # the best human text: changelog entry > fragment > tag notes > PR title > subject
    description_source: str
    refs: tuple[str, ...] = ()
    entries: tuple[EntryRef, ...] = ()
    signals: tuple[SignalRef, ...] = ()
    shipped_source: bool = False
    tests_touched: bool = False

    def __post_init__(self) -> None:
        # A window's judgments repeat a few thousand reason lists and a few hundred scores: one object each,
        # not one per commit. Only non-zero floats are shared: 0.0 and -0.0 (and 1 and 1.0) are equal keys
        # that print differently, and NaN equals nothing.
        object.__setattr__(self, "reasons", shared(_REASONS, self.reasons))
        score = self.score
        if type(score) is float and score and score == score:
            object.__setattr__(self, "score", shared(_SCORES, score))


_REASONS: dict[tuple[str, ...], tuple[str, ...]] = {}
_SCORES: dict[float, float] = {}


@dataclass(frozen=True)
class ThemeRef:
    """Related commits (the same feature built over many commits)."""

    name: str
    shas: tuple[str, ...]
    section: str
    score: float


@dataclass(slots=True)
class CommitEntry:
    sha: str
    short_sha: str
    date: str
    day: str
    author: str
    subject: str
    category: str
    areas: list[str]
    narration: str
    narration_source: str
    files: int
    lines_added: int
    lines_deleted: int
    is_merge: bool
    is_revert: bool
    is_bot: bool
    breaking: bool
    omitted: list[str] = field(default_factory=list)
    importance: float = 0.0  # the judging stage's score (see narrator.evidence.importance)
    tier: str = ""
    reasons: list[str] = field(default_factory=list)  # why it scored so, in plain words
    description: str = ""  # the best human-written text for it
    url: str = ""  # the commit on the repository's forge ("" without a known origin)
    entries: list[EntryRef] = field(default_factory=list)
    signals: list[SignalRef] = field(default_factory=list)


@dataclass
class Highlight:
    text: str
    day: str
    date: str  # ISO date (YYYY-MM-DD) in the report's timezone
    category: str
    areas: list[str]
    author: str
    sha: str
    tier: str = ""  # what kind of change it is for users: security, behaviour, feature, fix ...
    importance: float = 0.0
    reasons: list[str] = field(default_factory=list)
    url: str = ""
    related: int = 0  # other commits of the same theme folded into this highlight
    theme: str = ""


@dataclass
class CategorySummary:
    name: str
    commits: int
    share: float
    lines_added: int
    lines_deleted: int
    items: list[CommitEntry]


@dataclass
class AreaSummary:
    name: str
    commits: int
    files: int
    lines_added: int
    lines_deleted: int
    categories: list[tuple[str, int]]
    what: str  # what changed there, in words: the most important descriptions (or the kinds of work)
    items: list[CommitEntry]
    kinds: str = ""  # the kinds of work by count: "3 fixes and 2 new features and improvements"


@dataclass
class PersonSummary:
    name: str
    commits: int
    lines_added: int
    lines_deleted: int
    categories: list[tuple[str, int]]


@dataclass
class AttentionItem:
    kind: str
    title: str
    detail: str
    items: list[str] = field(default_factory=list)
    shas: list[str] = field(default_factory=list)  # the commits the items cite


@dataclass
class DayActivity:
    day: str
    label: str
    commits: int


@dataclass
class Numbers:
    commits: int
    work_commits: int
    merges: int
    pr_merges: int
    branch_syncs: int
    bot_commits: int
    contributors: int
    files_touched: int
    lines_added: int
    lines_deleted: int
    active_days: int
    days_in_period: int
    co_authors: list[str] = field(default_factory=list)  # co-authors of work commits who authored none
    mergers: list[str] = field(default_factory=list)  # people who only merged others' work


@dataclass
class Comparison:
    since: datetime
    until: datetime
    label: str
    commits: int
    work_commits: int
    contributors: int
    lines_added: int
    lines_deleted: int
    categories: list[tuple[str, int]]
    summary: str


@dataclass
class Release:
    name: str
    day: str
    sha: str
    date: str = ""  # ISO date (YYYY-MM-DD) in the report's timezone
    url: str = ""
    notes: list[str] = field(default_factory=list)  # what its changelog says it brings, most important first


@dataclass
class Report:
    schema_version: int
    title: str
    repository: str
    revision: str
    since: datetime | None
    until: datetime
    period_label: str
    generated_at: datetime
    timezone: str
    empty: bool
    headline: str
    highlights: list[Highlight]
    releases: list[Release]
    categories: list[CategorySummary]
    areas: list[AreaSummary]
    people: list[PersonSummary]
    per_person: bool
    attention: list[AttentionItem]
    activity: list[DayActivity]
    activity_unit: str  # "day", or "week" for windows longer than 120 days
    peak_days: list[DayActivity]
    numbers: Numbers
    comparison: Comparison | None
    bots: list[CommitEntry]
    merges: list[CommitEntry]
    commits: list[CommitEntry]
    engine: dict[str, Any]
    notes: list[str]
    links: dict[str, str] = field(default_factory=dict)  # repository, compare (the period on the forge)

    def to_context(self) -> dict[str, Any]:
        """The JSON-ready context every template (built-in or user) receives.

        Equivalent to ``dataclasses.asdict`` but converts each shared object once (commit entries appear
        in several lists: one dict each, also for entries kept on disk), which keeps large reports fast. The
        context is plain data without cycles: the cycle collector is paused while it is made (its full passes
        over a long report's millions of values found nothing, and took longer than making them).
        """
        memo: dict[Any, Any] = {}
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return _plain(self, memo)
        finally:
            if was_enabled:
                gc.enable()

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> "Report":
        """The report back from its context (``to_context()`` or the JSON output): render from a saved context."""
        return _load(cls, context)


def json_value(value: Any) -> Any:
    """A field value as JSON sees it: datetimes as ISO 8601 text, a report without a start as ""."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _plain(value: Any, memo: dict[int, Any]) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        key = id(value)
        found = memo.get(key)
        if found is None:
            found = memo[key] = {name: _plain(getattr(value, name), memo) for name in fields}
            if type(value) is Report and found["since"] is None:
                found["since"] = ""
        return found
    if isinstance(value, Entries):  # entries kept on disk as their JSON text: plain data once parsed, each
        return _parsed_entries(value, memo)  # once (by its position in its store, as objects are by id)
    if isinstance(value, (list, tuple)):
        return [_plain(v, memo) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, memo) for k, v in value.items()}
    return value


def _parsed_entries(entries: Entries, memo: dict[Any, Any]) -> list[Any]:
    """The stored entries as plain data (what ``_plain`` makes of a ``CommitEntry``: its JSON text parsed), one
    dict per stored entry however many lists name it."""
    key = ("entries", id(entries.store))
    parsed = memo.get(key)
    if parsed is None:
        parsed = memo[key] = {}
    new = [position for position in dict.fromkeys(entries.positions) if position not in parsed]
    for position, text in zip(new, entries.store.texts(new)):
        parsed[position] = json.loads(text)
    return [parsed[position] for position in entries.positions]


def _load(kind: Any, value: Any) -> Any:
    """``value`` (JSON-ready) converted back to the annotated type ``kind``."""
    import dataclasses
    import typing

    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        kwargs = {}
        for f in dataclasses.fields(kind):
            if f.name in value:
                kwargs[f.name] = _load(hints[f.name], value[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                kwargs[f.name] = _missing(hints[f.name])  # a context saved by an older narrator
        return kind(**kwargs)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union or type(kind).__name__ == "UnionType":
        if value is None or value == "" and datetime in args:
            return None
        return _load(next(a for a in args if a is not type(None)), value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if origin is list:
        return [_load(args[0], v) for v in value] if args else list(value)
    if origin is tuple:
        return tuple(value)
    return value


def _missing(kind: Any) -> Any:
    import typing

    origin = typing.get_origin(kind) or kind
    return {str: "", int: 0, float: 0.0, bool: False, list: [], dict: {}, tuple: ()}.get(origin)


# -- small text helpers -------------------------------------------------------------------------------

def period_label(since: datetime | None, until: datetime, first_commit: datetime | None = None) -> str:
    start = (since or first_commit or until).date()
    end = until.date()
    if start == end:
        return day_label(end, with_year=True)
    if start.year == end.year:
        return f"{day_label(start)} to {day_label(end, with_year=True)}"
    return f"{day_label(start, True)} to {day_label(end, True)}"


def category_phrase(category: str, count: int) -> str:
    return category_table.phrase(category, count)


def is_pr_merge(commit: CommitFacts) -> bool:
    return bool(_PR_MERGE.search(commit.subject))


# -- aggregation --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeriodInput:
    """Everything aggregated for one window (the report's, or the previous one for comparison)."""

    commits: Sequence[CommitFacts]
    classifications: Mapping[str, Classification]
    since: datetime | None
    until: datetime


def _entry_fields(c: CommitFacts, cl: Classification, n: Narration | None, tz: tzinfo, j: Judgment | None = None,
                  forge: Any = None) -> dict[str, Any]:
    """A commit entry's fields, in ``CommitEntry`` order, its lists as the tuples they come from: what the entry's
    JSON text is made from (a long window's entries are stored as that text, ``spill``: no ``CommitEntry`` is made)."""
    local = c.committed_at.astimezone(tz)
    url = ""
    if forge is not None:
        from narrator.evidence.forge import commit_url

        url = commit_url(forge, c.sha) or ""
    return {
        "sha": c.sha, "short_sha": c.short_sha, "date": local.isoformat(timespec="minutes"),
        "day": local.date().isoformat(), "author": c.author.name or c.author.email, "subject": c.subject,
        "category": cl.category, "areas": cl.areas, "narration": n.text if n else c.subject,
        "narration_source": n.source if n else "none", "files": len(c.files), "lines_added": c.lines_added,
        "lines_deleted": c.lines_deleted, "is_merge": c.is_merge, "is_revert": c.is_revert, "is_bot": c.is_bot,
        "breaking": cl.breaking, "omitted": n.omitted if n else (), "importance": j.score if j else 0.0,
        "tier": j.tier if j else "", "reasons": j.reasons if j else (), "description": j.description if j else "",
        "url": url, "entries": j.entries if j else (), "signals": j.signals if j else (),
    }


_LIST_FIELDS = ("areas", "omitted", "reasons", "entries", "signals")  # the list fields of a CommitEntry


def _entry(c: CommitFacts, cl: Classification, n: Narration | None, tz: tzinfo, j: Judgment | None = None,
           forge: Any = None) -> CommitEntry:
    fields = _entry_fields(c, cl, n, tz, j, forge)
    for name in _LIST_FIELDS:
        fields[name] = list(fields[name])
    return CommitEntry(**fields)


def _entry_from_json(text: str) -> CommitEntry:
    """A commit entry back from its JSON text (``spill.EntryStore``): the same values as the one stored."""
    data = json.loads(text)
    data["entries"] = [EntryRef(**e) for e in data["entries"]]
    data["signals"] = [SignalRef(**x) for x in data["signals"]]
    return CommitEntry(**data)


class _MadeEntries(Mapping):
    """The commit entries of a window made on demand (the few that headlines, highlights and attention quote)
    instead of held for every commit: ``build_report`` of a long window stores them in an ``EntryStore``."""

    def __init__(self, commits: Sequence[CommitFacts], position: Mapping[str, int], cls: Mapping[str, Classification],
                 narrations: Mapping[str, Narration], tz: tzinfo, judgments: Mapping[str, Judgment], forge: Any):
        self._commits, self._position = commits, position  # each commit's place in ``commits`` (no second table)
        self._args = (cls, narrations, tz, judgments, forge)

    def __getitem__(self, sha: str) -> CommitEntry:
        c = self._commits[self._position[sha]]
        cls, narrations, tz, judgments, forge = self._args
        return _entry(c, cls[sha], narrations.get(sha), tz, judgments.get(sha), forge)

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


def _contributors(commits: Iterable[CommitFacts]) -> dict[str, str]:
    """The ONE people count: distinct human authors of work commits (after .mailmap; merges and bots out)."""
    people: dict[str, str] = {}
    for c in commits:
        if not c.is_merge and not c.is_bot:
            people.setdefault(c.author.key, c.author.name or c.author.email)
    return people


def _helpers(commits: Sequence[CommitFacts], authors: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """People shown apart from the contributors: co-authors of work commits, and people who only merged."""
    co: dict[str, str] = {}
    mergers: dict[str, str] = {}
    for c in commits:
        if c.is_bot:
            continue
        if c.is_merge:
            if c.author.key not in authors:
                mergers.setdefault(c.author.key, c.author.name or c.author.email)
            continue
        for p in c.co_authors:
            if p.key not in authors:
                co.setdefault(p.key, p.name or p.email)
    return sorted(co.values()), sorted(v for k, v in mergers.items() if k not in co)


def _summarise_period(period: PeriodInput) -> dict[str, Any]:
    work = [c for c in period.commits if not c.is_merge and not c.is_bot]
    cats = Counter(period.classifications[c.sha].category for c in work)
    return {
        "commits": len(period.commits),
        "work_commits": len(work),
        "contributors": len(_contributors(period.commits)),
        "lines_added": sum(c.lines_added for c in work),
        "lines_deleted": sum(c.lines_deleted for c in work),
        "categories": [(k, v) for k, v in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def _impact(c: CommitFacts, cl: Classification) -> float:
    weight = category_table.weight(cl.category)
    source_churn = sum(f.churn for f in c.files if is_source_path(f.path, f.language)) or c.churn
    score = weight * (1.0 + math.log1p(source_churn))
    if cl.breaking:
        score *= 1.5
    return score


def _activity(commits: Sequence[CommitFacts], since: datetime | None, until: datetime, tz: tzinfo) -> list[DayActivity]:
    per_day = Counter(c.committed_at.astimezone(tz).date() for c in commits)
    if not per_day:
        return []
    start = (since.astimezone(tz).date() if since else min(per_day))
    end = until.astimezone(tz).date()
    if end < start:
        start, end = end, start
    if (end - start).days > 3653:  # a window of decades (--since 0001-01-01): chart the span of the commits
        start, end = max(start, min(per_day)), min(end, max(per_day))
    days = (end - start).days + 1
    if days > 120:  # long windows: one bar per ISO week keeps the chart readable
        weeks: Counter[date] = Counter()
        for day, n in per_day.items():
            weeks[day - timedelta(days=day.weekday())] += n
        first = start - timedelta(days=start.weekday())
        out = []
        week = first
        while week <= end:
            out.append(DayActivity(week.isoformat(), f"week of {day_label(week, True)}", weeks.get(week, 0)))
            week += timedelta(days=7)
        return out
    return [
        DayActivity((start + timedelta(days=i)).isoformat(), day_label(start + timedelta(days=i)),
                    per_day.get(start + timedelta(days=i), 0))
        for i in range(days)
    ]


def build_report(
    *,
    period: PeriodInput,
    narrations: Mapping[str, Narration],
    previous: PeriodInput | None,
    repository: str,
    revision: str,
    tz: tzinfo,
    tz_name: str,
    generated_at: datetime,
    title: str = "",
    thresholds: Thresholds = Thresholds(),
    per_person: bool = False,
    releases: Sequence[tuple[str, str, datetime]] = (),
    engine: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    last_activity: datetime | None = None,
    judgments: Mapping[str, Judgment] | None = None,
    themes: Sequence[ThemeRef] = (),
    forge: Any = None,
    comparison_name: str = "the previous period",
) -> Report:
    """The report for one window.

    ``last_activity``: the newest commit before an empty window, if any. ``judgments``: the judging stage's
    importance, description and evidence per commit (without them, a simpler category-weight ranking is used).
    ``forge``: a ``narrator.evidence.forge.Forge`` for links, or None.
    """
    judgments = judgments or {}
    commits = list(period.commits)
    cls = period.classifications
    until = period.until
    first = min((c.committed_at for c in commits), default=None)
    label = period_label(period.since.astimezone(tz) if period.since else None, until.astimezone(tz),
                         first.astimezone(tz) if first else None)
    if len(commits) >= SPILL_FROM:  # a long window: the entries go to disk, the report lists them by position
        store = EntryStore(_entry_from_json)
        position: dict[str, int] = {}
        for c in commits:
            position[c.sha] = store.add(_entry_fields(c, cls[c.sha], narrations.get(c.sha), tz, judgments.get(c.sha),
                                                      forge))
        entries: Mapping[str, CommitEntry] = _MadeEntries(commits, position, cls, narrations, tz, judgments, forge)

        def listed(items: Iterable[CommitFacts]) -> Sequence[CommitEntry]:
            return store.view(position[c.sha] for c in items)
    else:
        entries = {c.sha: _entry(c, cls[c.sha], narrations.get(c.sha), tz, judgments.get(c.sha), forge)
                   for c in commits}

        def listed(items: Iterable[CommitFacts]) -> Sequence[CommitEntry]:
            return [entries[c.sha] for c in items]
    bots = [c for c in commits if c.is_bot]
    humans = [c for c in commits if not c.is_bot]
    merges = [c for c in humans if c.is_merge]
    work = [c for c in humans if not c.is_merge]
    pr_merges = [c for c in merges if is_pr_merge(c)]
    people = _contributors(humans)
    co_authors, mergers = _helpers(humans, people)

    files_touched = {f.path for c in humans for f in c.files}
    # each work commit's lines, summed over its files once (categories, areas and people total them again)
    added = {c.sha: c.lines_added for c in work}
    deleted = {c.sha: c.lines_deleted for c in work}
    numbers = Numbers(
        commits=len(commits), work_commits=len(work), merges=len(merges), pr_merges=len(pr_merges),
        branch_syncs=len(merges) - len(pr_merges), bot_commits=len(bots), contributors=len(people),
        files_touched=len(files_touched), lines_added=sum(added[c.sha] for c in work),
        lines_deleted=sum(deleted[c.sha] for c in work),
        active_days=len({c.committed_at.astimezone(tz).date() for c in humans}),
        days_in_period=max(1, ((until - period.since).days + 1) if period.since else
                           ((until - first).days + 1 if first else 1)),
        co_authors=co_authors, mergers=mergers,
    )

    # Categories (work commits only: merges are bookkeeping, bots are reported apart)
    by_cat: dict[str, list[CommitFacts]] = defaultdict(list)
    for c in work:
        by_cat[cls[c.sha].category].append(c)
    categories = [
        CategorySummary(
            name=name, commits=len(items), share=len(items) / len(work) if work else 0.0,
            lines_added=sum(added[c.sha] for c in items), lines_deleted=sum(deleted[c.sha] for c in items),
            items=listed(items),
        )
        for name in WORK_CATEGORY_ORDER + sorted(set(by_cat) - set(WORK_CATEGORY_ORDER))
        if (items := by_cat.get(name))
    ]

    # Areas
    by_area: dict[str, list[CommitFacts]] = defaultdict(list)
    area_files: dict[str, set[str]] = defaultdict(set)
    for c in work:
        for area in cls[c.sha].areas:
            by_area[area].append(c)
    for c in work:
        for f in c.files:
            for area in cls[c.sha].areas:
                area_files[area].add(f.path)
    areas = []
    # the project's own code first, then tests, documentation and tooling (support for the work, not the work)
    for name, items in sorted(by_area.items(), key=lambda kv: (kv[0] in _SUPPORT_AREAS - {ROOT_AREA},
                                                               -len(kv[1]), kv[0])):
        cat_counts = Counter(cls[c.sha].category for c in items).most_common()
        kinds = _join([category_phrase(k, v) for k, v in cat_counts[:3]])
        what = _area_what(items, entries, judgments, name, cls) if judgments else kinds
        areas.append(AreaSummary(
            name=name, commits=len(items), files=len(area_files[name]),
            lines_added=sum(added[c.sha] for c in items), lines_deleted=sum(deleted[c.sha] for c in items),
            categories=cat_counts, what=what or kinds, items=listed(items), kinds=kinds,
        ))

    # People
    per_author: dict[str, list[CommitFacts]] = defaultdict(list)
    for c in work:
        per_author[c.author.key].append(c)
    people_summary = sorted(
        (PersonSummary(
            name=items[0].author.name or items[0].author.email, commits=len(items),
            lines_added=sum(added[c.sha] for c in items), lines_deleted=sum(deleted[c.sha] for c in items),
            categories=Counter(cls[c.sha].category for c in items).most_common(),
        ) for items in per_author.values()),
        key=lambda p: (-p.commits, p.name),
    )

    if judgments:
        highlights = _judged_highlights(work, cls, entries, judgments, themes, thresholds, tz)
    else:
        highlights = _weighted_highlights(work, cls, entries, thresholds, tz)
    highlighted = {_said(h.text) for h in highlights}  # a release's notes do not repeat a highlight
    final_releases = _final_releases(releases)
    filed = _entries_by_version(work, judgments) if final_releases else {}
    release_list = [Release(name, day_label(when.astimezone(tz).date()), sha, when.astimezone(tz).date().isoformat(),
                            url=_tag_url(forge, name), notes=_release_notes(name, filed, highlighted))
                    for name, sha, when in final_releases]

    attention = _judged_attention(work, entries, judgments, tz) if judgments else []
    attention += _attention(work, humans, bots, commits, cls, entries, thresholds, tz, judged=bool(judgments))
    activity = _activity(humans, period.since, until, tz)
    peak = sorted((a for a in activity if a.commits), key=lambda a: (-a.commits, a.day))[:2]

    comparison = None
    if previous is not None and previous.since is not None:
        prev = _summarise_period(previous)
        prev_label = period_label(previous.since.astimezone(tz), previous.until.astimezone(tz))
        comparison = Comparison(
            since=previous.since, until=previous.until, label=prev_label,
            commits=prev["commits"], work_commits=prev["work_commits"], contributors=prev["contributors"],
            lines_added=prev["lines_added"], lines_deleted=prev["lines_deleted"], categories=prev["categories"],
            summary=_comparison_sentence(numbers, prev, prev_label, comparison_name),
        )

    headline = _headline(numbers, categories, areas, release_list, label, attention) if commits else (
        f"No activity between {label.replace(' to ', ' and ')}." + _last_activity(last_activity, period, tz)
    )
    return Report(
        schema_version=SCHEMA_VERSION,
        # the title (a config string or --title), the directory name and the branch are cleaned like commit text
        title=one_line(title) or f"{one_line(repository)} \u2014 progress report, {label}",
        repository=one_line(repository), revision=one_line(revision),
        since=period.since, until=until, period_label=label,
        generated_at=generated_at.replace(microsecond=0), timezone=tz_name, empty=not commits,
        headline=headline, highlights=highlights, releases=release_list, categories=categories, areas=areas,
        people=people_summary, per_person=per_person, attention=attention, activity=activity,
        activity_unit="week" if activity and activity[0].label.startswith("week of") else "day", peak_days=peak,
        numbers=numbers, comparison=comparison, bots=listed(bots), merges=listed(merges), commits=listed(commits),
        engine=dict(engine or {}), notes=list(notes),
    )


def _area_words(name: str) -> str:
    """An area as a sentence names it: "the flask core", "the documentation", "examples"."""
    if name.endswith(" core"):
        return f"the {name}"
    return _AREA_WORDS.get(name, name)


def _last_activity(last: datetime | None, period: PeriodInput, tz: tzinfo) -> str:
    if last is None:
        return " There are no earlier commits either."
    day = last.astimezone(tz).date()
    start = (period.since or period.until).astimezone(tz).date()
    gap = (start - day).days
    ago = f", {plural(gap, 'day')} before this period started" if gap > 1 else ""
    return f" The last commit before it was on {day_label(day, True)}{ago}."


def _headline(numbers: Numbers, categories: list[CategorySummary], areas: list[AreaSummary],
              releases: list[Release], label: str, attention: Sequence[AttentionItem] = ()) -> str:
    parts = []
    kinds = {a.kind: a for a in attention}
    warn = []
    if "security" in kinds:
        warn.append(plural(len(kinds["security"].items), "security fix", "security fixes"))
    if "behaviour" in kinds:
        n = len(kinds["behaviour"].items)
        warn.append(f"{plural(n, 'behaviour change')} that can affect users")

    if numbers.work_commits == 0:
        first = f"{plural(numbers.commits, 'commit')} landed, none of them new work by the team"
        if numbers.bot_commits:
            first += f" ({plural(numbers.bot_commits, 'automated update')})"
        return first + "."
    cats = {c.name: c.commits for c in categories}
    delivered = [category_phrase(name, cats[name]) for name in category_table.DELIVERED if cats.get(name)]
    who = plural(numbers.contributors, "person", "people")
    lead = f"{who} made {plural(numbers.work_commits, 'change')}"
    if delivered:
        lead += f": {_join(delivered)}"
    rest = [c for c in categories if c.name not in _DELIVERED]
    if rest:
        upkeep = sum(c.commits for c in rest)
        top = [c.name.lower().replace("build & ci", "build and automation") for c in
               sorted(rest, key=lambda c: -c.commits)[:2]]
        if delivered:
            lead += f"; the other {plural(upkeep, 'change')} {'was' if upkeep == 1 else 'were'} upkeep ({_join(top)})"
        else:
            lead += f", {'upkeep' if upkeep == 1 else 'all upkeep'} ({_join(top)})"
    parts.append(lead + ".")
    code_areas = [a for a in areas if a.name not in _SUPPORT_AREAS][:2]
    if len(code_areas) == 2 and code_areas[1].commits * 4 < code_areas[0].commits:
        code_areas = code_areas[:1]  # "the lodash core" (14 commits), not "... and lib/main" (1)
    if code_areas:
        parts.append(f"Most code changes were in {_join([_area_words(a.name) for a in code_areas])}.")
    elif areas:
        parts.append(f"Most of the work was in {_join([_area_words(a.name) for a in areas[:2]])}.")
    if releases:
        shown = releases[-4:]
        years = {r.date[:4] for r in releases}
        days: list[tuple[str, list[str]]] = []  # "6.0.0 and 7.0.0 (12 May)": one date for releases of one day
        for r in shown:
            day = f"{r.day}{' ' + r.date[:4] if len(years) > 1 else ''}"
            if days and days[-1][0] == day:
                days[-1][1].append(r.name)
            else:
                days.append((day, [r.name]))
        names = _join([f"{_join(group)} ({day})" for day, group in days])
        earlier = len(releases) - len(shown)
        more = f", plus {plural(earlier, 'earlier release')}" if earlier else ""
        parts.insert(0, f"Released {names}{more}.")
    if warn:  # what a manager must act on comes right after the release, before the counts
        parts.insert(1 if releases else 0,
                     f"{'It includes' if releases else 'This period brings'} {_join(warn)} (see Needs attention).")
    return " ".join(parts)


def _comparison_sentence(numbers: Numbers, prev: dict[str, Any], prev_label: str,
                         name: str = "the previous period") -> str:
    now, before = numbers.work_commits, prev["work_commits"]
    if before == 0 and now == 0:
        return f"As quiet as {name} ({prev_label}): no work commits in either."
    if before == 0:
        return f"{name[:1].upper()}{name[1:]} ({prev_label}) had no work commits; this one had {now:,}."
    change = (now - before) / before
    if abs(change) < 0.15:
        trend = "About as busy as"
    elif change > 0:
        trend = "Busier than"
    else:
        trend = "Quieter than"
    return (f"{trend} {name} ({prev_label}): {plural(now, 'work commit')} against {before:,}, "
            f"{plural(numbers.contributors, 'contributor')} against {prev['contributors']:,}.")


_TIER_ORDER = {"security": 0, "behaviour": 1, "feature": 2, "notable": 3, "fix": 3, "performance": 4, "code": 5,
               "refactor": 6, "docs": 7, "tests": 8, "upkeep": 9}
_TIER_WORDS = {"security": "security fix", "behaviour": "behaviour change", "feature": "feature", "notable": "user-facing change",
               "fix": "fix", "performance": "speed-up", "code": "code change", "refactor": "reorganisation",
               "docs": "documentation", "tests": "tests", "upkeep": "upkeep"}
_NOISE_TIERS = {"upkeep", "tests", "docs", "refactor"}
_SIGNAL_WORDS = {
    "api_removed": "public function or class removed", "api_renamed": "public function or class renamed",
    "option_removed": "command-line option removed", "option_renamed": "command-line option renamed",
    "env_removed": "environment variable no longer read", "default_changed": "default changed",
    "exit_code_changed": "exit code changed", "deprecation_added": "deprecated",
}


# Code signals that break someone's command line or scripts (a security fix may do so too); a changed default
# is left out here: in a security fix it is most often the fix itself (flask's session "accessed" flag)
_BREAKING_SIGNALS = frozenset({"option_removed", "option_renamed", "env_removed", "exit_code_changed"})


def tier_words(tier: str) -> str:
    return _TIER_WORDS.get(tier, tier)


def _reverted(work: Sequence[CommitFacts]) -> set[str]:
    """Commits undone by a revert in the same window (they are not highlights: the work did not stay)."""
    out = set()
    shas = sorted(c.sha for c in work)  # the shas a reverted (maybe abbreviated) sha starts: one bisection each
    for c in work:
        if c.is_revert and c.reverted_sha:
            at = bisect_left(shas, c.reverted_sha)
            while at < len(shas) and shas[at].startswith(c.reverted_sha):
                out.add(shas[at])
                at += 1
            out.add(c.sha)
    return out


def _weighted_highlights(work, cls, entries, thresholds: Thresholds, tz: tzinfo) -> list[Highlight]:
    """Without judgments (a saved context of an older narrator, tests): features and fixes by category weight."""
    ranked = sorted(work, key=lambda c: (-_impact(c, cls[c.sha]), c.committed_at))
    chosen = [c for c in ranked if cls[c.sha].category in ("Features", "Fixes", "Performance")
              or cls[c.sha].breaking][: thresholds.highlights]
    if len(chosen) < min(3, thresholds.highlights):
        extra = [c for c in ranked if c not in chosen]
        chosen += extra[: min(3, thresholds.highlights) - len(chosen)]
    return [_highlight(c, cls, entries, tz) for c in sorted(chosen, key=lambda c: -_impact(c, cls[c.sha]))]


def _highlight(c: CommitFacts, cls, entries, tz: tzinfo, related: int = 0, theme: str = "") -> Highlight:
    e = entries[c.sha]
    return Highlight(text=e.narration, day=day_label(c.committed_at.astimezone(tz).date()),
                     date=c.committed_at.astimezone(tz).date().isoformat(), category=cls[c.sha].category,
                     areas=list(cls[c.sha].areas), author=c.author.name or c.author.email, sha=c.sha,
                     tier=e.tier, importance=e.importance, reasons=list(e.reasons), url=e.url, related=related,
                     theme=theme)


def _judged_highlights(work, cls, entries, judgments: Mapping[str, Judgment], themes: Sequence[ThemeRef],
                       thresholds: Thresholds, tz: tzinfo) -> list[Highlight]:
    """The top work by importance (security and behaviour changes first), related commits folded into one theme;
    tooling, CI, tests and documentation are never highlights while real work exists."""
    undone = _reverted(work)
    candidates = [c for c in work if c.sha not in undone and c.sha in judgments]
    real = [c for c in candidates if judgments[c.sha].tier not in _NOISE_TIERS]
    pool = real or candidates
    in_theme: dict[str, ThemeRef] = {}
    subjects = {c.sha: f"{c.subject} {judgments[c.sha].description}".lower() for c in work if c.sha in judgments}
    for theme in themes if len(work) >= 15 else ():  # in a handful of commits, shared words are chance
        if len(theme.shas) >= 3:
            words = [re.compile(r"(?<![\w-])" + re.escape(w.lower().rstrip("s"))) for w in theme.name.split(", ") if w]
            for sha in theme.shas:
                # a commit stands for its theme only when it says what the theme is about ("static, routes, 404"
                # does not describe "add support for HTTP QUERY method", linked to it by shared files)
                if any(w.search(subjects.get(sha, "")) for w in words):
                    in_theme.setdefault(sha, theme)

    def rank(c: CommitFacts) -> tuple:
        j = judgments[c.sha]
        return (_TIER_ORDER.get(j.tier, 9), -j.score, c.committed_at)

    chosen: list[Highlight] = []
    used_themes: set[str] = set()
    said: set[str] = set()  # one change landed twice (a backport, a cherry-pick) is one highlight
    for c in sorted(pool, key=rank):
        if len(chosen) >= thresholds.highlights:
            break
        text = " ".join(entries[c.sha].narration.lower().split())
        if text in said:
            continue
        said.add(text)
        theme = in_theme.get(c.sha)
        if theme is not None and judgments[c.sha].tier not in ("security", "behaviour"):
            if theme.name in used_themes:
                continue
            used_themes.add(theme.name)
            # security fixes and behaviour changes stand on their own, they are not "related changes" of it
            members = sum(1 for sha in theme.shas if in_theme.get(sha) is theme
                          and judgments[sha].tier not in ("security", "behaviour"))
            chosen.append(_highlight(c, cls, entries, tz, related=members - 1, theme=theme.name if members > 1 else ""))
        else:
            chosen.append(_highlight(c, cls, entries, tz))
    return chosen


_CLAUSE_END = re.compile(r"(?<=[.;:!?])\s|\s[-\u2013\u2014]\s")


def _open_parens(text: str) -> int:
    return text.count("(") - text.count(")")


def _topic(text: str, words: int = 9) -> str:
    """A description cut to a short topic: its first clause (never ended inside parentheses: "--to (finished
    weeks once each; failed ones retried) for digests"), at most ``words`` words, no final full stop, and no
    parenthesis left open by the cut."""
    flat = " ".join(text.split())
    first = flat
    for end in _CLAUSE_END.finditer(flat):
        if _open_parens(flat[:end.start()]) <= 0:
            first = flat[:end.start()]
            break
    first = first.rstrip(".;:!?")
    parts = first.split(" ")
    if parts and re.fullmatch(r"[a-z]+(?:'[a-z]+)?", parts[0]):  # a plain word ("don't"), not a name
        parts[0] = parts[0][:1].upper() + parts[0][1:]
    topic = " ".join(parts[:words])
    if _open_parens(topic) > 0 and topic.rfind("(") > 0:  # cut inside a parenthesis: stop before it
        return topic[:topic.rfind("(")].rstrip(" ,;:") + "\u2026"
    return topic + ("\u2026" if len(parts) > words else "")


def _area_what(items: Sequence[CommitFacts], entries, judgments: Mapping[str, Judgment], area: str = "",
               cls: Mapping[str, Classification] | None = None) -> str:
    """The top three things that changed in an area, in the words of their descriptions. For the tests, the
    documentation and the tooling, the commits mostly about them come first (the malware-blocking feature that
    also touched the linter's baseline is not what changed in the tooling)."""
    undone = _reverted(items)
    support = area in _SUPPORT_AREAS - {ROOT_AREA} and cls is not None

    def mostly_here(c: CommitFacts) -> bool:
        return bool(support and cls[c.sha].areas and cls[c.sha].areas[0] == area)

    # a release's notes describe other commits' work, not what changed in the documentation
    ranked = sorted((c for c in items if c.sha in judgments and c.sha not in undone and not (
                        judgments[c.sha].reasons and judgments[c.sha].reasons[0].startswith(RELEASE_NOTES_REASON))),
                    key=lambda c: (not mostly_here(c), _TIER_ORDER.get(judgments[c.sha].tier, 9),
                                   -judgments[c.sha].score))
    topics: list[str] = []
    for c in ranked:
        topic = _topic(judgments[c.sha].description or entries[c.sha].narration)
        if topic and topic.lower() not in (t.lower() for t in topics):
            topics.append(topic)
        if len(topics) == 3:
            break
    return "; ".join(topics)


def _tag_url(forge: Any, name: str) -> str:
    if forge is None:
        return ""
    from narrator.evidence.forge import tag_url

    return tag_url(forge, name) or ""


_PRE_RELEASE = re.compile(r"^(?P<final>v?\d+(?:\.\d+)+)[-.]?(?:rc|beta|alpha|pre|preview|dev|a|b)\.?\d*$", re.I)


_DEVELOPMENT = re.compile(r"(?:^|[.\-_])dev\d*$", re.I)  # numpy's v2.1.0.dev0 starts 2.1.0's development
_VERSION = re.compile(r"\d")


def _final_releases(releases: Sequence[tuple[str, str, datetime]]) -> list[tuple[str, str, datetime]]:
    """The window's releases: its tags that name a version (a digit: numpy's "with_maskna" marks a point in
    history, "stable" moves), not the start of one's development (v2.1.0.dev0), and not the pre-releases of a
    final release made in it too (6.0.0-rc2 is superseded by 6.0.0 for a reader of the period)."""
    names = {name for name, _sha, _when in releases}
    return [(name, sha, when) for name, sha, when in releases
            if _VERSION.search(name) and not _DEVELOPMENT.search(name)
            and not ((m := _PRE_RELEASE.match(name)) and m.group("final") in names)]


def _said(text: str) -> str:
    """A sentence reduced for comparison: lower case, one space, no final full stop."""
    return " ".join(text.lower().split()).rstrip(".")


def _repeats(text: str, said: set[str]) -> bool:
    """Whether ``text`` says again what one of ``said`` says: contained in it, or three quarters of its
    significant words are ("Add support for HTTP QUERY method" after "Adds first-class support for the QUERY
    HTTP method RFC 10008")."""
    from narrator.evidence.match import significant_words

    mine = _said(text)
    words = significant_words(mine)
    for other in said:
        if not other:
            continue
        if mine in other or other in mine:
            return True
        theirs = significant_words(other)
        if words and len(words & theirs) >= 0.75 * len(words):
            return True
    return False


def _entries_by_version(work: Sequence[CommitFacts], judgments: Mapping[str, Judgment]
                        ) -> dict[str, list[tuple[float, EntryRef]]]:
    """The changelog entries the work's judgments hold, by the version they are filed under ("v" dropped), each
    with its commit's score, in the order of the work and of each commit's entries (one pass for every release)."""
    filed: dict[str, list[tuple[float, EntryRef]]] = {}
    for c in work:
        j = judgments.get(c.sha)
        if j is None:
            continue
        for e in j.entries:
            if e.version:
                filed.setdefault(e.version.lstrip("vV"), []).append((j.score, e))
    return filed


def _release_notes(name: str, filed: Mapping[str, Sequence[tuple[float, EntryRef]]],
                   highlighted: set[str] = frozenset()) -> list[str]:
    """What a release brings, from the changelog entries filed under its version (``_entries_by_version``; most
    important first), leaving out what a highlight already says."""
    found: dict[str, list] = {}  # entry text -> [score of the best commit holding it, kind rank, order, text]
    for score, e in filed.get(name.lstrip("vV"), ()):
        if e.text in found:  # held by the release-notes commit and by the work it describes: the work counts
            found[e.text][0] = max(found[e.text][0], score)
            continue
        text = _CC_PREFIX.sub("", _first_sentence(e.text))
        if _repeats(text, highlighted):
            found[e.text] = [float("-inf"), 9, 0, ""]  # said by a highlight already
            continue
        # the work's importance first; among the entries of one release-notes commit, what they are
        # (security, behaviour changes, features, fixes before upkeep), then the order they are written
        found[e.text] = [score, _TIER_ORDER.get(_ENTRY_TIER.get(e.kind, "notable"), 9), len(found),
                         _short(text[:1].upper() + text[1:], 140)]
    ranked = sorted((x for x in found.values() if x[3]), key=lambda x: (-x[0], x[1], x[2]))
    return [x[3] for x in ranked[:2]]


_CC_PREFIX = re.compile(r"^[a-z]+(?:\([^)]*\))?!?:\s+")
_ENTRY_TIER = {"security": "security", "removal": "behaviour", "deprecation": "behaviour", "change": "behaviour",
               "feature": "feature", "bugfix": "fix", "performance": "performance", "doc": "docs",
               "packaging": "upkeep", "misc": "upkeep"}


def _first_sentence(text: str) -> str:
    import re as _re

    return _re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(text.split()), maxsplit=1)[0]


def _cite(entry: CommitEntry, j: Judgment) -> str:
    """Where a behaviour change shows: the changelog line or the code line, and the commit."""
    said = " ".join(entry.narration.lower().split())
    for e in j.entries:
        if e.kind in ("removal", "deprecation", "change", "security") or not e.kind:
            where = f"{e.file}:{e.line}" if e.line else e.file
            quote = "" if _short(e.text, 60).rstrip("\u2026").lower()[:50] in said else f"\u201c{_short(e.text)}\u201d, "
            return f"{quote}changelog {where}, commit {entry.short_sha}"
    if j.tier == "security":  # the advisory it closes, or the vulnerability its subject names
        ids = list(dict.fromkeys(sg.name for sg in j.signals if sg.kind == "security" and sg.strength == "strong"
                                 and sg.name.upper().startswith(("GHSA-", "CVE-"))))
        # the advisory first; else the newest CVE ("fixes an incomplete patch for CVE-2021-23337" is history)
        strong = [i for i in ids if i.upper().startswith("GHSA-")] or \
            sorted(ids, key=lambda i: i[4:8], reverse=True)[:1]
        if strong:
            return f"{', '.join(strong[:2])}, commit {entry.short_sha}"
        named = [sg for sg in j.signals if sg.kind == "security" and sg.where == "subject"]
        if named:
            return f"the subject names {named[0].name}, commit {entry.short_sha}"
    for sg in j.signals:
        if sg.kind in _SIGNAL_WORDS and sg.where == "source":
            return f"{_SIGNAL_WORDS[sg.kind]}: {sg.name} at {sg.file}:{sg.line}, commit {entry.short_sha}"
    if entry.breaking:
        return f"the commit message says it breaks compatibility, commit {entry.short_sha}"
    return f"commit {entry.short_sha}"


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def _judged_attention(work, entries, judgments: Mapping[str, Judgment], tz: tzinfo) -> list[AttentionItem]:
    out: list[AttentionItem] = []
    def once(items: list[CommitFacts]) -> list[CommitFacts]:  # a backported change is cited once
        seen: set[str] = set()
        out = []
        for c in items:
            text = " ".join(entries[c.sha].narration.lower().split())
            if text not in seen:
                seen.add(text)
                out.append(c)
        return out

    security = once([c for c in work if c.sha in judgments and judgments[c.sha].tier == "security"])
    if security:
        out.append(AttentionItem(
            "security", f"{plural(len(security), 'security fix', 'security fixes')}",
            "Users should upgrade to the release that contains them.",
            [f"{entries[c.sha].narration} ({_cite(entries[c.sha], judgments[c.sha])})" for c in security],
            [c.sha for c in security]))
    from narrator.evidence.paths import path_kind

    def reaches_users(c: CommitFacts) -> bool:  # a contributor-process or CI change is not a behaviour change
        j = judgments[c.sha]
        return bool(j.shipped_source or j.entries) or (
            bool(c.files) and not all(path_kind(f.path) in ("docs", "ci", "test", "changelog") for f in c.files))

    def also_breaks(c: CommitFacts) -> bool:  # "BC Break / Security: Disabled automatic fallback ..." is both
        j = judgments[c.sha]
        return j.tier == "security" and j.shipped_source and any(
            sg.where == "source" and sg.kind in _BREAKING_SIGNALS for sg in j.signals)

    behaviour = [c for c in work if c.sha in judgments and reaches_users(c) and (
        (judgments[c.sha].tier == "behaviour" and not c.is_revert) or also_breaks(c))]
    behaviour = once(sorted(behaviour, key=lambda c: -judgments[c.sha].score))
    if behaviour:
        out.append(AttentionItem(
            "behaviour", f"{plural(len(behaviour), 'behaviour change')} that can affect users",
            "Removed or renamed options and functions, changed defaults or exit codes, and deprecations may need "
            "action from people who use this software before they upgrade.",
            [_behaviour_line(entries[c.sha], judgments[c.sha]) for c in behaviour],
            [c.sha for c in behaviour]))
    return out


def _behaviour_line(entry: CommitEntry, j: Judgment) -> str:
    """One behaviour change as Needs attention lists it; a security fix listed above is named short here."""
    if j.tier != "security":
        return f"{entry.narration} ({_cite(entry, j)})"
    sg = next(sg for sg in j.signals if sg.where == "source" and sg.kind in _BREAKING_SIGNALS)
    return (f"{_short(entry.narration, 90)} (the security fix above; {_SIGNAL_WORDS[sg.kind]}: {sg.name} at "
            f"{sg.file}:{sg.line}, commit {entry.short_sha})")


def _attention(work, humans, bots, commits, cls, entries, t: Thresholds, tz: tzinfo,
               judged: bool = False) -> list[AttentionItem]:
    out: list[AttentionItem] = []
    breaking = [] if judged else [c for c in work if cls[c.sha].breaking]  # judged: behaviour changes cover it
    if breaking:
        out.append(AttentionItem(
            "breaking", f"{plural(len(breaking), 'change')} marked as breaking",
            "These may need action from people who use this software before they upgrade.",
            [entries[c.sha].narration for c in breaking],
        ))
    large = []
    file_commits: Counter[str] = Counter()  # the commits of each shipped-source file (never generated, minified,
    for c in work:                          # vendored or lockfiles), counted in the same pass
        churn = 0
        for f in c.files:
            if is_shipped_source(f.path, f.binary):
                churn += f.churn
                file_commits[f.path] += 1
        if churn >= t.large_change_lines and not any(is_test_path(f.path) for f in c.files):
            large.append((c, churn))
    if large:
        out.append(AttentionItem(
            "untested", f"{plural(len(large), 'large change')} without test changes",
            f"Each changed at least {t.large_change_lines:,} lines of code and touched no tests.",
            [f"{entries[c.sha].narration} ({churn:,} lines, {day_label(c.committed_at.astimezone(tz).date())})"
             for c, churn in sorted(large, key=lambda x: -x[1])],
        ))
    # a revert that is a security fix is listed with the security fixes
    reverts = [c for c in work if c.is_revert and entries[c.sha].tier != "security"]
    if reverts:
        out.append(AttentionItem(
            "reverts", f"{plural(len(reverts), 'change')} undone",
            "Reverts can be a sign of churn or of a problem found after release.",
            [f"{entries[c.sha].narration} ({day_label(c.committed_at.astimezone(tz).date())})" for c in reverts],
        ))
    fixes = sum(1 for c in work if cls[c.sha].category == "Fixes")
    if work and len(work) >= 4 and fixes / len(work) > t.fix_share_warning:
        out.append(AttentionItem(
            "fix-share", f"Fixes were {fixes / len(work):.0%} of the work",
            f"{fixes:,} of {len(work):,} work commits fixed problems; more time went to repairs than to new work.",
        ))
    hot = [(p, n) for p, n in file_commits.most_common(5) if n >= t.hotspot_min_commits]
    if hot:
        out.append(AttentionItem(
            "hotspots", f"{plural(len(hot), 'file')} changed again and again",
            "Files changed by many commits are where bugs and merge conflicts tend to gather.",
            [f"{p} ({n:,} commits)" for p, n in hot],
        ))
    if work and len(work) >= t.concentration_min_commits:
        authors = Counter(c.author.key for c in work)
        key, top = authors.most_common(1)[0]
        if top / len(work) >= t.concentration_share:
            name = next(c.author.name or c.author.email for c in work if c.author.key == key)
            others = len(authors) - 1
            rest = f"; {plural(others, 'other person', 'other people')} shared the rest" if others else ""
            out.append(AttentionItem(
                "concentration", f"One person made {top:,} of the {len(work):,} work commits",
                f"{name} did most of the work{rest}. The project depends heavily on one person.",
            ))
    if bots and commits and len(bots) / len(commits) >= t.bot_share_warning:
        out.append(AttentionItem(
            "bots", f"Automated accounts made {len(bots):,} of {len(commits):,} commits",
            "Mostly automated updates; they are listed apart from the team's work.",
            sorted({c.author.name for c in bots}),
        ))
    return out
