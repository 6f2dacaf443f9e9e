"""The report's content model (``Report`` and its parts) and the pure helpers that word it.

``narrator.report.aggregate`` makes a ``Report`` from a window's commits; this module holds what it is made of:
the dataclasses every format reads (Markdown, HTML, terminal, JSON, user templates), a commit's entry, the
headline and comparison sentences, release notes and topics. No I/O, no git, no engines: everything here is a
function of its arguments, and every sentence uses only computed facts and narrations.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Iterable, Mapping, Sequence

from narrator import categories as category_table
from narrator.git.classify import DOCS_AREA, ROOT_AREA, TESTS_AREA, TOOLING_AREA, is_source_path
from narrator.evidence.sharing import shared
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.report.spill import Entries
from narrator.report.text import day_label, join_words as _join, plural

SCHEMA_VERSION = 1
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


def _contributors(commits: Iterable[CommitFacts]) -> dict[str, str]:
    """The ONE people count: distinct human authors of work commits (after .mailmap; merges and bots out)."""
    people: dict[str, str] = {}
    for c in commits:
        if not c.is_merge and not c.is_bot:
            people.setdefault(c.author.key, c.author.name or c.author.email)
    return people


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


def _activity_from(per_day: Mapping[date, int], since: datetime | None, until: datetime,
                   tz: tzinfo) -> list[DayActivity]:
    """The chart's bars: commits per day (``per_day``, in the report's zone), per ISO week for long windows."""
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


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"
