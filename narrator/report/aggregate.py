"""A window's report built one commit at a time: its commits, fed once in window order -> the ``Report``.

``ReportBuilder.add`` takes each commit with its classification, narration and judgment and keeps only what the
report needs of it: counts and sums; every listing (the window, a category, an area, the bots, the merges) as
positions in the window; the commit entries (``model.CommitEntry`` objects, or their JSON text on disk for a long
window: ``spill``); the few commits that Needs attention and the releases' notes cite; and bounded best-lists for
what is chosen by rank (the highlights, each area's top topics). ``finish`` makes the ``Report``.

A best-list keeps the best items by rank, so it is exactly the start of the ranked list: a choice made from it is
the choice made from every commit, unless the choice runs out of it first (many commits of one theme, the same
change landed again and again, reverts). Then that choice is made again from every commit, read again through
``replay``. What still grows with the window: a short window's entries (under ``SPILL_FROM`` commits), eight bytes
a commit for each listing it is in, and what is kept per path (files touched, each area's files, the
hotspot counts).
"""

from __future__ import annotations

import heapq
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from narrator.evidence.importance import RELEASE_NOTES_REASON
from narrator.evidence.paths import is_shipped_source, path_kind
from narrator.git.classify import is_test_path
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.report.model import (
    _BREAKING_SIGNALS, _NOISE_TIERS, _SIGNAL_WORDS, _SUPPORT_AREAS, _TIER_ORDER, ROOT_AREA, SCHEMA_VERSION,
    WORK_CATEGORY_ORDER, AreaSummary, AttentionItem, CategorySummary, CommitEntry, Comparison,
    EntryRef, Highlight, Judgment, Numbers, PeriodInput, PersonSummary, Release, Report, ThemeRef, Thresholds,
    _activity_from, _comparison_sentence, _entry, _entry_fields, _entry_from_json, _final_releases, _headline,
    _impact, _last_activity, _release_notes, _said, _short, _summarise_period, _tag_url, _topic,
    category_phrase, is_pr_merge, period_label,
)
from narrator.report.spill import EntryStore
from narrator.report.text import day_label, join_words as _join, one_line, plural

__all__ = ["ReportBuilder", "build_report", "build_report_from"]

Fed = tuple[CommitFacts, Classification, "Narration | None", "Judgment | None"]  # one commit, as ``add`` takes it

SPILL_FROM = 2000  # windows of this many commits or more keep their commit entries on disk (``spill``)
_HIGHLIGHT_BEST = 256  # the best highlight candidates kept (a theme's other commits and repeats are passed over)
_TOPIC_BEST = 24  # the best topic candidates kept per area (three distinct topics are wanted)


class _Ranked:
    """One commit in a best-list: its rank (``key``, then its place in the window) and what choosing it needs."""

    __slots__ = ("key", "seq", "fed", "extra")

    def __init__(self, key: tuple, seq: int, fed: Fed, extra: Any = None) -> None:
        self.key, self.seq, self.fed, self.extra = key, seq, fed, extra

    def __lt__(self, other: "_Ranked") -> bool:  # the heap keeps the worst at its top
        return (other.key, other.seq) < (self.key, self.seq)


class _Best:
    """The ``size`` best-ranked items offered (the lowest ``key``; ties: the first offered), and whether any was
    left out."""

    __slots__ = ("size", "heap", "dropped")

    def __init__(self, size: int) -> None:
        self.size, self.heap, self.dropped = size, [], False

    def offer(self, item: _Ranked) -> None:
        if self.size <= 0:
            self.dropped = True
            return
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, item)
            return
        self.dropped = True
        worst = self.heap[0]
        if (item.key, item.seq) < (worst.key, worst.seq):
            heapq.heapreplace(self.heap, item)

    def ranked(self) -> list[_Ranked]:
        return sorted(self.heap, key=lambda item: (item.key, item.seq))


class _RanOut(Exception):
    """A choice needs more of the ranking than its best-list kept."""


@dataclass
class _Tally:
    """The commits of a category, an area or a person: positions in the window, lines, categories."""

    positions: array = field(default_factory=lambda: array("q"))
    added: int = 0
    deleted: int = 0
    categories: Counter = field(default_factory=Counter)
    name: str = ""  # a person's name as their first commit gives it
    files: set[str] = field(default_factory=set)  # an area's files
    topics: _Best | None = None  # an area's topic candidates


class ReportBuilder:
    """The report of one window from its commits fed in window order (``add``), then ``finish``.

    ``judged``: the judging stage ran (its judgments rank highlights and topics; without it, a simpler
    category-weight ranking is used). ``themes``: the judging stage's themes (related commits). ``spill``: keep
    the entries on disk (a long window). ``replay``: the same commits again, in the same order, for a choice that
    runs out of its best-list.
    """

    def __init__(self, *, tz: tzinfo, thresholds: Thresholds = Thresholds(), judged: bool = False,
                 themes: Sequence[ThemeRef] = (), forge: Any = None, spill: bool = False,
                 replay: Callable[[], Iterable[Fed]] | None = None) -> None:
        self._tz, self._t, self._judged, self._forge = tz, thresholds, judged, forge
        self._replay = replay
        self._store = EntryStore(_entry_from_json) if spill else None
        self._entries: list[CommitEntry] = []
        self._count = 0
        self._first: datetime | None = None
        self._bots, self._merges = array("q"), array("q")
        self._bot_names: set[str] = set()
        self._pr_merges = 0
        self._people: dict[str, str] = {}  # the contributors: human authors of work commits
        self._co: dict[str, str] = {}  # co-authors of work commits (the contributors left out at the end)
        self._mergers: dict[str, str] = {}  # people who merged (the contributors and co-authors left out at the end)
        self._files_touched: set[str] = set()
        self._per_day: Counter = Counter()
        self._work = self._added = self._deleted = self._fixes = 0
        self._by_cat: dict[str, _Tally] = {}
        self._by_area: dict[str, _Tally] = {}
        self._per_author: dict[str, _Tally] = {}
        self._breaking: list[int] = []  # positions of work marked breaking (a window without judgments)
        self._large: list[tuple[int, int, datetime]] = []  # (churn, position, when): large untested changes
        self._file_commits: Counter = Counter()  # the work commits of each shipped-source file
        self._reverts: list[tuple[int, datetime]] = []  # reverts that are not security fixes
        self._undo: list[tuple[str, str, tuple[str, ...]]] = []  # (revert, the sha it undoes, its areas)
        self._security: list[tuple[int, Fed]] = []
        self._behaviour: list[tuple[int, Fed]] = []
        self._filed: dict[str, list[tuple[float, EntryRef]]] = {}  # changelog entries by version (releases)
        self._real, self._candidates = _Best(_HIGHLIGHT_BEST), _Best(_HIGHLIGHT_BEST)  # judged highlights
        self._qualifying = _Best(thresholds.highlights)  # highlights by category weight (no judgments)
        self._heaviest = _Best(thresholds.highlights + 3)
        self._theme_words = {theme.name: [re.compile(r"(?<![\w-])" + re.escape(w.lower().rstrip("s")))
                                          for w in theme.name.split(", ") if w]
                             for theme in themes if len(theme.shas) >= 3}
        self._themes_of: dict[str, list[ThemeRef]] = {}
        for theme in themes:
            if theme.name in self._theme_words:
                for sha in theme.shas:
                    self._themes_of.setdefault(sha, []).append(theme)
        self._in_theme: dict[str, ThemeRef] = {}  # a theme member that says what its theme is about
        self._members: Counter = Counter()  # by theme (its id): members neither security fixes nor behaviour changes

    # -- one commit --------------------------------------------------------------------------------------------

    def add(self, c: CommitFacts, cl: Classification, n: Narration | None, j: Judgment | None) -> None:
        """Count one commit (the next in window order)."""
        seq = self._count
        self._count += 1
        tz = self._tz
        if self._store is not None:
            self._store.add(_entry_fields(c, cl, n, tz, j, self._forge))
        else:
            self._entries.append(_entry(c, cl, n, tz, j, self._forge))
        if self._first is None or c.committed_at < self._first:
            self._first = c.committed_at
        if c.is_bot:
            self._bots.append(seq)
            self._bot_names.add(c.author.name)
            return
        self._files_touched.update(f.path for f in c.files)
        self._per_day[c.committed_at.astimezone(tz).date()] += 1
        if c.is_merge:
            self._merges.append(seq)
            self._pr_merges += is_pr_merge(c)
            self._mergers.setdefault(c.author.key, c.author.name or c.author.email)
            return
        self._add_work(seq, (c, cl, n, j))

    def _add_work(self, seq: int, fed: Fed) -> None:
        c, cl, n, j = fed
        name = c.author.name or c.author.email
        self._people.setdefault(c.author.key, name)
        for p in c.co_authors:
            self._co.setdefault(p.key, p.name or p.email)
        self._work += 1
        self._added += c.lines_added
        self._deleted += c.lines_deleted
        self._fixes += cl.category == "Fixes"
        for tally in (self._tally(self._by_cat, cl.category), self._author_tally(c.author.key, name)):
            self._count_in(tally, seq, c, cl)
        for area in cl.areas:
            tally = self._tally(self._by_area, area)
            self._count_in(tally, seq, c, cl)
            tally.files.update(f.path for f in c.files)
        if cl.breaking and not self._judged:
            self._breaking.append(seq)
        churn = 0
        for f in c.files:
            if is_shipped_source(f.path, f.binary):
                churn += f.churn
                self._file_commits[f.path] += 1
        if churn >= self._t.large_change_lines and not any(is_test_path(f.path) for f in c.files):
            self._large.append((churn, seq, c.committed_at))
        if c.is_revert:
            if (j.tier if j else "") != "security":
                self._reverts.append((seq, c.committed_at))
            if c.reverted_sha:
                self._undo.append((c.sha, c.reverted_sha, cl.areas))
        if j is not None:
            self._judged_work(seq, fed)
        elif not self._judged:
            impact = _impact(c, cl)
            ranked = _Ranked((-impact, c.committed_at), seq, fed, impact)
            self._heaviest.offer(ranked)
            if cl.category in ("Features", "Fixes", "Performance") or cl.breaking:
                self._qualifying.offer(ranked)

    def _judged_work(self, seq: int, fed: Fed) -> None:
        """What a judged work commit may become: a highlight, an area's topic, a release's note, a security fix or
        a behaviour change to act on."""
        c, cl, n, j = fed
        for e in j.entries:
            if e.version:
                self._filed.setdefault(e.version.lstrip("vV"), []).append((j.score, e))
        theme = self._theme_of(c, j)
        ranked = _Ranked((_TIER_ORDER.get(j.tier, 9), -j.score, c.committed_at), seq, fed, theme)
        self._candidates.offer(ranked)
        if j.tier not in _NOISE_TIERS:
            self._real.offer(ranked)
        if self._judged and not (j.reasons and j.reasons[0].startswith(RELEASE_NOTES_REASON)):
            support = cl.areas[0] if cl.areas and cl.areas[0] in _SUPPORT_AREAS - {ROOT_AREA} else None
            for area in cl.areas:
                tally = self._by_area[area]
                if tally.topics is None:
                    tally.topics = _Best(_TOPIC_BEST)
                tally.topics.offer(_Ranked((area != support, _TIER_ORDER.get(j.tier, 9), -j.score), seq, fed))
        if j.tier == "security":
            self._security.append((seq, fed))
        if _reaches_users(c, j) and ((j.tier == "behaviour" and not c.is_revert) or _also_breaks(j)):
            self._behaviour.append((seq, fed))

    def _theme_of(self, c: CommitFacts, j: Judgment) -> ThemeRef | None:
        """The first theme (in the judging stage's order) whose words the commit's subject or description says."""
        themes = self._themes_of.get(c.sha)
        if not themes:
            return None
        said = f"{c.subject} {j.description}".lower()
        for theme in themes:
            if any(w.search(said) for w in self._theme_words[theme.name]):
                self._in_theme.setdefault(c.sha, theme)
                if j.tier not in ("security", "behaviour"):
                    self._members[id(theme)] += 1
                return theme
        return None

    @staticmethod
    def _tally(table: dict[str, _Tally], name: str) -> _Tally:
        tally = table.get(name)
        if tally is None:
            tally = table[name] = _Tally()
        return tally

    def _author_tally(self, key: str, name: str) -> _Tally:
        tally = self._per_author.get(key)
        if tally is None:
            tally = self._per_author[key] = _Tally(name=name)
        return tally

    @staticmethod
    def _count_in(tally: _Tally, seq: int, c: CommitFacts, cl: Classification) -> None:
        tally.positions.append(seq)
        tally.added += c.lines_added
        tally.deleted += c.lines_deleted
        tally.categories[cl.category] += 1

    # -- the report --------------------------------------------------------------------------------------------

    def listed(self, positions: Iterable[int]) -> Sequence[CommitEntry]:
        """The entries at ``positions``: a view of the ones on disk, or the entry objects themselves."""
        if self._store is not None:
            return self._store.view(positions)
        return [self._entries[p] for p in positions]

    def entry(self, seq: int, fed: Fed) -> CommitEntry:
        """The entry of a commit fed at ``seq`` (made again from what was fed when the entries are on disk)."""
        if self._store is None:
            return self._entries[seq]
        c, cl, n, j = fed
        return _entry(c, cl, n, self._tz, j, self._forge)

    def finish(self, *, since: datetime | None, until: datetime, repository: str, revision: str, tz_name: str,
               generated_at: datetime, title: str = "", per_person: bool = False,
               releases: Sequence[tuple[str, str, datetime]] = (), engine: Mapping[str, Any] | None = None,
               notes: Sequence[str] = (), last_activity: datetime | None = None,
               previous: PeriodInput | None = None, comparison_name: str = "the previous period") -> Report:
        """The ``Report`` of the commits added (``since``/``until``: the window; the rest as ``build_report``)."""
        tz, first = self._tz, self._first
        label = period_label(since.astimezone(tz) if since else None, until.astimezone(tz),
                             first.astimezone(tz) if first else None)
        authors = self._people
        co = {k: v for k, v in self._co.items() if k not in authors}
        mergers = {k: v for k, v in self._mergers.items() if k not in authors}
        merges = len(self._merges)
        numbers = Numbers(
            commits=self._count, work_commits=self._work, merges=merges, pr_merges=self._pr_merges,
            branch_syncs=merges - self._pr_merges, bot_commits=len(self._bots), contributors=len(authors),
            files_touched=len(self._files_touched), lines_added=self._added, lines_deleted=self._deleted,
            active_days=len(self._per_day),
            days_in_period=max(1, ((until - since).days + 1) if since else
                               ((until - first).days + 1 if first else 1)),
            co_authors=sorted(co.values()), mergers=sorted(v for k, v in mergers.items() if k not in co),
        )
        work = self._work
        categories = [
            CategorySummary(name=name, commits=len(t.positions), share=len(t.positions) / work if work else 0.0,
                            lines_added=t.added, lines_deleted=t.deleted, items=self.listed(t.positions))
            for name in WORK_CATEGORY_ORDER + sorted(set(self._by_cat) - set(WORK_CATEGORY_ORDER))
            if (t := self._by_cat.get(name))
        ]
        areas = []
        # the project's own code first, then tests, documentation and tooling (support for the work, not the work)
        for name, t in sorted(self._by_area.items(), key=lambda kv: (kv[0] in _SUPPORT_AREAS - {ROOT_AREA},
                                                                     -len(kv[1].positions), kv[0])):
            cat_counts = t.categories.most_common()
            kinds = _join([category_phrase(k, v) for k, v in cat_counts[:3]])
            what = self._area_what(name, t) if self._judged else kinds
            areas.append(AreaSummary(
                name=name, commits=len(t.positions), files=len(t.files), lines_added=t.added,
                lines_deleted=t.deleted, categories=cat_counts, what=what or kinds, items=self.listed(t.positions),
                kinds=kinds,
            ))
        people = sorted(
            (PersonSummary(name=t.name, commits=len(t.positions), lines_added=t.added, lines_deleted=t.deleted,
                           categories=t.categories.most_common()) for t in self._per_author.values()),
            key=lambda p: (-p.commits, p.name),
        )
        highlights = self._judged_highlights() if self._judged else self._weighted_highlights()
        highlighted = {_said(h.text) for h in highlights}  # a release's notes do not repeat a highlight
        release_list = [Release(name, day_label(when.astimezone(tz).date()), sha,
                                when.astimezone(tz).date().isoformat(), url=_tag_url(self._forge, name),
                                notes=_release_notes(name, self._filed, highlighted))
                        for name, sha, when in _final_releases(releases)]
        attention = self._judged_attention() if self._judged else []
        attention += self._attention()
        activity = _activity_from(self._per_day, since, until, tz)
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
        empty = not self._count
        headline = _headline(numbers, categories, areas, release_list, label, attention) if not empty else (
            f"No activity between {label.replace(' to ', ' and ')}."
            + _last_activity(last_activity, PeriodInput((), {}, since, until), tz)
        )
        return Report(
            schema_version=SCHEMA_VERSION,
            # the title (a config string or --title), the directory name and the branch are cleaned like commit text
            title=one_line(title) or f"{one_line(repository)} \u2014 progress report, {label}",
            repository=one_line(repository), revision=one_line(revision),
            since=since, until=until, period_label=label,
            generated_at=generated_at.replace(microsecond=0), timezone=tz_name, empty=empty,
            headline=headline, highlights=highlights, releases=release_list, categories=categories, areas=areas,
            people=people, per_person=per_person, attention=attention, activity=activity,
            activity_unit="week" if activity and activity[0].label.startswith("week of") else "day",
            peak_days=peak, numbers=numbers, comparison=comparison, bots=self.listed(self._bots),
            merges=self.listed(self._merges), commits=self.listed(range(self._count)),
            engine=dict(engine or {}), notes=list(notes),
        )

    # -- choices from best-lists -------------------------------------------------------------------------------

    def _undone(self, area: str | None = None) -> Callable[[str], bool]:
        """Whether a work commit (of ``area``, or of the window) was undone by a revert of the same commits."""
        undo = [(sha, prefix) for sha, prefix, areas in self._undo if area is None or area in areas]
        reverts = {sha for sha, _ in undo}
        prefixes = tuple(prefix for _, prefix in undo)
        return lambda sha: sha in reverts or sha.startswith(prefixes)

    def _everything(self, choose: Callable[[list[_Ranked]], Any], offer: Callable[[int, Fed, _Best], None]) -> Any:
        """``choose`` over every commit: each fed one is offered again (``offer``) to a best-list without limit."""
        if self._replay is None:
            raise RuntimeError("a choice ran out of its best-list and there is no replay")
        best = _Best(1 << 62)
        seq = 0
        for fed in self._replay():
            offer(seq, fed, best)
            seq += 1
        return choose(best.ranked())

    def _judged_highlights(self) -> list[Highlight]:
        """The top work by importance (security and behaviour changes first), related commits folded into one
        theme; tooling, CI, tests and documentation are never highlights while real work exists."""
        undone = self._undone()
        real = [item for item in self._real.ranked() if not undone(item.fed[0].sha)]
        if not real and self._real.dropped:  # whether real work exists is not known from the best-list
            return self._highlights_from_everything()
        pool = real if real else [item for item in self._candidates.ranked() if not undone(item.fed[0].sha)]
        dropped = (self._real if real else self._candidates).dropped
        try:
            return self._choose_highlights(pool, exhausted=dropped)
        except _RanOut:
            return self._highlights_from_everything()

    def _highlights_from_everything(self) -> list[Highlight]:
        undone = self._undone()

        def offer(seq: int, fed: Fed, best: _Best) -> None:
            c, cl, n, j = fed
            if j is None or c.is_bot or c.is_merge or undone(c.sha):
                return
            best.offer(_Ranked((_TIER_ORDER.get(j.tier, 9), -j.score, c.committed_at), seq, fed,
                               self._in_theme.get(c.sha)))

        def choose(ranked: list[_Ranked]) -> list[Highlight]:
            real = [item for item in ranked if item.fed[3].tier not in _NOISE_TIERS]
            return self._choose_highlights(real or ranked, exhausted=False)

        return self._everything(choose, offer)

    def _choose_highlights(self, pool: list[_Ranked], exhausted: bool) -> list[Highlight]:
        chosen: list[Highlight] = []
        used_themes: set[str] = set()
        said: set[str] = set()  # one change landed twice (a backport, a cherry-pick) is one highlight
        themed = self._work >= 15  # in a handful of commits, shared words are chance
        for item in pool:
            if len(chosen) >= self._t.highlights:
                return chosen
            c, cl, n, j = item.fed
            entry = self.entry(item.seq, item.fed)
            text = " ".join(entry.narration.lower().split())
            if text in said:
                continue
            said.add(text)
            theme = item.extra if themed else None
            if theme is not None and j.tier not in ("security", "behaviour"):
                if theme.name in used_themes:
                    continue
                used_themes.add(theme.name)
                # security fixes and behaviour changes stand on their own, they are not "related changes" of it
                members = self._members[id(theme)]
                chosen.append(_highlight(c, cl, entry, self._tz, related=members - 1,
                                         theme=theme.name if members > 1 else ""))
            else:
                chosen.append(_highlight(c, cl, entry, self._tz))
        if exhausted and len(chosen) < self._t.highlights:
            raise _RanOut
        return chosen

    def _weighted_highlights(self) -> list[Highlight]:
        """Without judgments (a saved context of an older narrator, tests): features and fixes by category weight."""
        want = self._t.highlights
        chosen = self._qualifying.ranked()[:want]
        if len(chosen) < min(3, want):
            taken = {item.seq for item in chosen}
            chosen += [item for item in self._heaviest.ranked() if item.seq not in taken][:min(3, want) - len(chosen)]
        chosen.sort(key=lambda item: -item.extra)
        return [_highlight(item.fed[0], item.fed[1], self.entry(item.seq, item.fed), self._tz) for item in chosen]

    def _area_what(self, area: str, tally: _Tally) -> str:
        """The top three things that changed in an area, in the words of their descriptions. For the tests, the
        documentation and the tooling, the commits mostly about them come first (the malware-blocking feature that
        also touched the linter's baseline is not what changed in the tooling)."""
        best = tally.topics
        if best is None:
            return ""
        undone = self._undone(area)
        try:
            return self._choose_topics([item for item in best.ranked() if not undone(item.fed[0].sha)],
                                       exhausted=best.dropped)
        except _RanOut:
            support = area in _SUPPORT_AREAS - {ROOT_AREA}

            def offer(seq: int, fed: Fed, everything: _Best) -> None:
                c, cl, n, j = fed
                if j is None or c.is_bot or c.is_merge or area not in cl.areas or undone(c.sha) or (
                        j.reasons and j.reasons[0].startswith(RELEASE_NOTES_REASON)):
                    return
                here = support and cl.areas[0] == area
                everything.offer(_Ranked((not here, _TIER_ORDER.get(j.tier, 9), -j.score), seq, fed))

            return self._everything(lambda ranked: self._choose_topics(ranked, exhausted=False), offer)

    def _choose_topics(self, ranked: list[_Ranked], exhausted: bool) -> str:
        topics: list[str] = []
        for item in ranked:
            j = item.fed[3]
            topic = _topic(j.description or self.entry(item.seq, item.fed).narration)
            if topic and topic.lower() not in (t.lower() for t in topics):
                topics.append(topic)
            if len(topics) == 3:
                return "; ".join(topics)
        if exhausted:
            raise _RanOut
        return "; ".join(topics)

    # -- Needs attention ---------------------------------------------------------------------------------------

    def _once(self, items: Iterable[tuple[int, Fed]]) -> list[tuple[CommitEntry, Fed]]:
        """A backported change is cited once: the first commit of each narration."""
        seen: set[str] = set()
        out = []
        for seq, fed in items:
            entry = self.entry(seq, fed)
            text = " ".join(entry.narration.lower().split())
            if text not in seen:
                seen.add(text)
                out.append((entry, fed))
        return out

    def _judged_attention(self) -> list[AttentionItem]:
        out: list[AttentionItem] = []
        security = self._once(self._security)
        if security:
            out.append(AttentionItem(
                "security", f"{plural(len(security), 'security fix', 'security fixes')}",
                "Users should upgrade to the release that contains them.",
                [f"{entry.narration} ({_cite(entry, fed[3])})" for entry, fed in security],
                [fed[0].sha for _, fed in security]))
        behaviour = self._once(sorted(self._behaviour, key=lambda item: -item[1][3].score))
        if behaviour:
            out.append(AttentionItem(
                "behaviour", f"{plural(len(behaviour), 'behaviour change')} that can affect users",
                "Removed or renamed options and functions, changed defaults or exit codes, and deprecations may "
                "need action from people who use this software before they upgrade.",
                [_behaviour_line(entry, fed[3]) for entry, fed in behaviour],
                [fed[0].sha for _, fed in behaviour]))
        return out

    def _narrations(self, positions: Sequence[int]) -> list[str]:
        """The sentences of the entries at ``positions`` (read back in blocks when they are on disk)."""
        return [e.narration for e in self.listed(positions)]

    def _attention(self) -> list[AttentionItem]:
        out: list[AttentionItem] = []
        t, tz, work = self._t, self._tz, self._work
        if self._breaking:
            out.append(AttentionItem(
                "breaking", f"{plural(len(self._breaking), 'change')} marked as breaking",
                "These may need action from people who use this software before they upgrade.",
                self._narrations(self._breaking),
            ))
        if self._large:
            large = sorted(self._large, key=lambda x: -x[0])
            said = self._narrations([seq for _, seq, _ in large])
            out.append(AttentionItem(
                "untested", f"{plural(len(large), 'large change')} without test changes",
                f"Each changed at least {t.large_change_lines:,} lines of code and touched no tests.",
                [f"{text} ({churn:,} lines, {day_label(when.astimezone(tz).date())})"
                 for text, (churn, _, when) in zip(said, large)],
            ))
        if self._reverts:
            out.append(AttentionItem(
                "reverts", f"{plural(len(self._reverts), 'change')} undone",
                "Reverts can be a sign of churn or of a problem found after release.",
                [f"{text} ({day_label(when.astimezone(tz).date())})"
                 for text, (_, when) in zip(self._narrations([seq for seq, _ in self._reverts]), self._reverts)],
            ))
        fixes = self._fixes
        if work and work >= 4 and fixes / work > t.fix_share_warning:
            out.append(AttentionItem(
                "fix-share", f"Fixes were {fixes / work:.0%} of the work",
                f"{fixes:,} of {work:,} work commits fixed problems; more time went to repairs than to new work.",
            ))
        hot = [(p, n) for p, n in self._file_commits.most_common(5) if n >= t.hotspot_min_commits]
        if hot:
            out.append(AttentionItem(
                "hotspots", f"{plural(len(hot), 'file')} changed again and again",
                "Files changed by many commits are where bugs and merge conflicts tend to gather.",
                [f"{p} ({n:,} commits)" for p, n in hot],
            ))
        if work and work >= t.concentration_min_commits:
            key, top = max(((k, len(v.positions)) for k, v in self._per_author.items()),
                           key=lambda kv: kv[1])  # the first of the most active, as Counter.most_common gives it
            if top / work >= t.concentration_share:
                others = len(self._per_author) - 1
                rest = f"; {plural(others, 'other person', 'other people')} shared the rest" if others else ""
                out.append(AttentionItem(
                    "concentration", f"One person made {top:,} of the {work:,} work commits",
                    f"{self._per_author[key].name} did most of the work{rest}. The project depends heavily on one "
                    "person.",
                ))
        bots, commits = len(self._bots), self._count
        if bots and commits and bots / commits >= t.bot_share_warning:
            out.append(AttentionItem(
                "bots", f"Automated accounts made {bots:,} of {commits:,} commits",
                "Mostly automated updates; they are listed apart from the team's work.",
                sorted(self._bot_names),
            ))
        return out


def _reaches_users(c: CommitFacts, j: Judgment) -> bool:
    """A contributor-process or CI change is not a behaviour change."""
    return bool(j.shipped_source or j.entries) or (
        bool(c.files) and not all(path_kind(f.path) in ("docs", "ci", "test", "changelog") for f in c.files))


def _also_breaks(j: Judgment) -> bool:
    """A security fix that also breaks scripts ("BC Break / Security: Disabled automatic fallback ...")."""
    return j.tier == "security" and j.shipped_source and any(
        sg.where == "source" and sg.kind in _BREAKING_SIGNALS for sg in j.signals)


def _highlight(c: CommitFacts, cl: Classification, e: CommitEntry, tz: tzinfo, related: int = 0,
               theme: str = "") -> Highlight:
    day = c.committed_at.astimezone(tz).date()
    return Highlight(text=e.narration, day=day_label(day), date=day.isoformat(), category=cl.category,
                     areas=list(cl.areas), author=c.author.name or c.author.email, sha=c.sha, tier=e.tier,
                     importance=e.importance, reasons=list(e.reasons), url=e.url, related=related, theme=theme)


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


def _behaviour_line(entry: CommitEntry, j: Judgment) -> str:
    """One behaviour change as Needs attention lists it; a security fix listed above is named short here."""
    if j.tier != "security":
        return f"{entry.narration} ({_cite(entry, j)})"
    sg = next(sg for sg in j.signals if sg.where == "source" and sg.kind in _BREAKING_SIGNALS)
    return (f"{_short(entry.narration, 90)} (the security fix above; {_SIGNAL_WORDS[sg.kind]}: {sg.name} at "
            f"{sg.file}:{sg.line}, commit {entry.short_sha})")


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
    """The report for one window, its narrations and judgments by sha (``build_report_from`` with them).

    ``last_activity``: the newest commit before an empty window, if any. ``judgments``: the judging stage's
    importance, description and evidence per commit (without them, a simpler category-weight ranking is used).
    ``forge``: a ``narrator.evidence.forge.Forge`` for links, or None.
    """
    judgments = judgments or {}
    cls = period.classifications

    def fed() -> Iterator[Fed]:
        for c in period.commits:
            yield c, cls[c.sha], narrations.get(c.sha), judgments.get(c.sha)

    return build_report_from(
        fed, len(period.commits), tz=tz, thresholds=thresholds, judged=bool(judgments), themes=themes, forge=forge,
        since=period.since, until=period.until, repository=repository, revision=revision, tz_name=tz_name,
        generated_at=generated_at, title=title, per_person=per_person, releases=releases,
        engine=engine, notes=notes, last_activity=last_activity,
        previous=previous, comparison_name=comparison_name)


def build_report_from(fed: Callable[[], Iterable[Fed]], commits: int, *, tz: tzinfo,
                      thresholds: Thresholds = Thresholds(), judged: bool = False, themes: Sequence[ThemeRef] = (),
                      forge: Any = None, engine: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
                      notes: Sequence[str] | Callable[[], Sequence[str]] = (), **window: Any) -> Report:
    """The report for one window of ``commits`` commits, fed by ``fed()`` in window order (called again only for a
    choice that runs out of its best-list). ``engine`` and ``notes`` may be functions, asked once every commit
    was fed (what the narrating stage found while it was read). ``window``: ``ReportBuilder.finish``'s arguments."""
    builder = ReportBuilder(tz=tz, thresholds=thresholds, judged=judged, themes=themes, forge=forge,
                            spill=commits >= SPILL_FROM, replay=fed)
    for item in fed():
        builder.add(*item)
    return builder.finish(engine=engine() if callable(engine) else engine,
                          notes=notes() if callable(notes) else notes, **window)
