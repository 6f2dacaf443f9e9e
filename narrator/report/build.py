"""Orchestration of one report: walk -> facts (cached) -> filter -> classify -> narrate (cached) -> model.

This is the only place that ties the stages together; each stage stays a plain function of plain data.
Library code never prints: progress goes through the ``ProgressSink`` the caller passes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Iterable, Protocol, Sequence

from narrator.cache import Cache
from narrator.config import Config
from narrator.engines import registry
from narrator.engines.base import NarrationRequest
from narrator.engines.heuristic import narrate_commit
from narrator.errors import NarratorError, RepositoryError
from narrator.git.bots import bot_matcher
from narrator.git.classify import Classifier, dominant_area, path_matches
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.walker import GitDiffs, Repository, WalkSpec, list_commits, read_facts, run_git
from narrator.git.text import decode
from narrator.prompts import PROMPT_VERSION
from narrator.report.model import PeriodInput, Report, Thresholds, build_report
from narrator.timespec import check_window, current_time, parse_when, resolve_timezone

log = logging.getLogger(__name__)

DEFAULT_SINCE = "2w"


class ProgressSink(Protocol):
    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def stop(self) -> None: ...


class NoProgress:
    """A ProgressSink that shows nothing (library callers, background jobs)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked for (already parsed from flags); ``None`` means "use the config/default"."""

    repo: str = "."
    revisions: tuple[str, ...] = ()
    all_branches: bool = False
    since: str | None = None
    until: str | None = None
    authors: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    no_merges: bool = False
    include_bots: bool | None = None
    engine: str | None = None
    title: str | None = None
    per_person: bool | None = None
    compare: bool = True


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime
    tz: tzinfo
    tz_name: str


def resolve_window(since: str | None, until: str | None, config: Config, now: datetime | None = None) -> Window:
    tz_name = config.get("timezone", "local")
    tz = resolve_timezone(tz_name)
    now = (now or current_time(tz)).astimezone(tz)
    until_dt = parse_when(until, edge="until", now=now, tz=tz) if until else now
    since_dt = parse_when(since or DEFAULT_SINCE, edge="since", now=now, tz=tz)
    check_window(since_dt, until_dt)
    return Window(since_dt, until_dt, tz, tz_name if tz_name != "local" else str(now.tzname() or "local"))


@dataclass
class WalkOutcome:
    repo: Repository
    commits: list[CommitFacts]
    previous: list[CommitFacts]
    revision_label: str
    notes: list[str] = field(default_factory=list)
    compared: bool = True  # False when the previous period could not be read


def collect_facts(repo: Repository, shas: Sequence[str], cache: Cache | None, progress: ProgressSink) -> dict[str, CommitFacts]:
    """Facts for these commits: from the cache where present, else from one git process (then cached)."""
    found = cache.get_facts(repo.key, list(shas)) if cache is not None else {}
    missing = [s for s in shas if s not in found]
    if missing:
        progress.start("Reading history", len(missing))
        fresh: list[CommitFacts] = []
        try:
            for facts in read_facts(repo, missing, on_commit=progress.advance):
                fresh.append(facts)
                if cache is not None and len(fresh) >= 2000:
                    cache.put_facts(repo.key, fresh)
                    found.update((f.sha, f) for f in fresh)
                    fresh = []
        finally:
            progress.stop()
        if cache is not None:
            cache.put_facts(repo.key, fresh)
        found.update((f.sha, f) for f in fresh)
    return found


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
    if not authors:
        return True
    hay = [f"{p.name} <{p.email}>".lower() for p in commit.people]
    return any(a.lower() in h for a in authors for h in hay)


def select(commits: Iterable[CommitFacts], request: ReportRequest) -> list[CommitFacts]:
    """Apply the Python-side filters (authors, paths, merges) to walked commits."""
    out = []
    for c in commits:
        if request.no_merges and c.is_merge:
            continue
        if not _author_matches(c, request.authors):
            continue
        filtered = _filter_files(c, request.paths, request.excludes)
        if filtered is None:
            continue
        out.append(filtered)
    return out


def releases_in(repo: Repository, commits: Sequence[CommitFacts]) -> list[tuple[str, str, datetime]]:
    """Tags pointing at commits of the window, oldest first: (tag, commit sha, commit date)."""
    by_sha = {c.sha: c for c in commits}
    proc = run_git(repo.root, ["for-each-ref", "refs/tags", "--format=%(refname:short)%00%(objectname)%00%(*objectname)"],
                   check=False)
    found = []
    for line in decode(proc.stdout).splitlines():
        parts = line.split("\0")
        if len(parts) != 3:
            continue
        name, obj, peeled = parts
        sha = peeled or obj
        if sha in by_sha:
            found.append((name, sha, by_sha[sha].committed_at))
    return sorted(found, key=lambda t: t[2])


def walk(request: ReportRequest, config: Config, window: Window, cache: Cache | None,
         progress: ProgressSink | None = None, repo: Repository | None = None) -> WalkOutcome:
    """``repo``: the already opened ``request.repo`` (saves opening it twice), or None to open it here."""
    progress = progress or NoProgress()
    repo = repo or Repository.open(request.repo)
    revisions = request.revisions or ("HEAD",)
    if not request.all_branches:
        for rev in revisions:
            repo.resolve(rev)
    elif not repo.has_commits():
        raise NarratorError(f"repository {repo.root} has no commits yet: nothing to report")
    label = "all branches" if request.all_branches else ", ".join(
        (repo.current_branch() or "HEAD (detached)") if r == "HEAD" else r for r in revisions)
    previous_since = None
    if request.compare and window.since is not None:
        previous_since = window.since - (window.until - window.since)
    spec = WalkSpec(revisions=tuple(revisions), all_branches=request.all_branches,
                    since=previous_since or window.since, until=window.until)
    listed = list_commits(repo, spec)
    current_shas = [s for s, when in listed if window.since is None or when >= window.since]
    previous_shas = [s for s, when in listed if window.since is not None and when < window.since]
    facts = collect_facts(repo, current_shas, cache, progress)
    notes, compared = [], True
    try:  # the comparison is secondary: a damaged older history must not cost the whole report
        facts.update(collect_facts(repo, previous_shas, cache, progress))
    except RepositoryError as exc:
        log.warning("previous period unreadable: %s", exc)
        previous_shas, compared = [], False
        notes.append(f"The previous period could not be read, so there is no comparison ({exc}).")
    is_bot = bot_matcher(config.get("bots.patterns", []))
    include_bots = config.get("bots.include", False) if request.include_bots is None else request.include_bots

    def prepared(shas: Sequence[str]) -> list[CommitFacts]:
        marked = []
        for sha in shas:
            commit = facts.get(sha)
            if commit is not None:
                bot = not include_bots and is_bot(commit.author)  # --include-bots: counted as team work
                marked.append(commit if commit.is_bot == bot else replace(commit, is_bot=bot))
        return select(marked, request)

    if repo.shallow:
        oldest = min((facts[s].committed_at for s in facts), default=None)
        cut = f" at {oldest.astimezone(window.tz).date().isoformat()}" if oldest else ""
        notes.append(f"This is a shallow clone: the history is cut{cut}, so older work is not counted.")
    return WalkOutcome(repo=repo, commits=prepared(current_shas), previous=prepared(previous_shas),
                       revision_label=label, notes=notes, compared=compared)


def narrate(
    commits: Sequence[CommitFacts],
    classifications: dict[str, Classification],
    engine: Any,
    repo: Repository,
    cache: Cache | None,
    progress: ProgressSink | None = None,
) -> tuple[dict[str, Narration], dict[str, int]]:
    """Narrations for these commits: cached ones reused, the rest generated batch by batch and cached."""
    progress = progress or NoProgress()
    fingerprint = engine.fingerprint()
    shas = [c.sha for c in commits]
    found = cache.get_narrations(repo.key, shas, fingerprint, PROMPT_VERSION) if cache is not None else {}
    stats = {"cached": len(found), "model": 0, "heuristic": 0, "fallback": 0}

    def stamped(batch: Iterable[Narration]) -> list[Narration]:
        return [replace(n, basis=classifications[n.sha].digest) if n.source == "heuristic" else n for n in batch]

    def store(batch: list[Narration]) -> None:
        if cache is not None:
            cache.put_narrations(repo.key, stamped(batch), fingerprint, PROMPT_VERSION)

    # Heuristic sentences (the heuristic engine's, or a model's fallbacks) follow the current classification.
    by_sha = {c.sha: c for c in commits}
    stale = [n for n in found.values() if n.source == "heuristic" and n.basis != classifications[n.sha].digest]
    if stale:
        refreshed = [replace(n, text=narrate_commit(by_sha[n.sha], classifications[n.sha])) for n in stale]
        store(refreshed)
        found.update((n.sha, n) for n in refreshed)
    missing = [NarrationRequest(c, classifications[c.sha]) for c in commits if c.sha not in found]
    if missing:

        progress.start(f"Narrating with {engine.name}", len(missing))  # shown only if it takes over a second
        try:
            fresh = engine.narrate(missing, diffs=GitDiffs(repo), on_progress=progress.advance, on_batch=store)
        finally:
            progress.stop()
        if len(fresh) != len(missing):
            raise NarratorError(f"engine '{engine.name}' returned {len(fresh)} narrations for {len(missing)} commits")
        found.update((n.sha, n) for n in fresh)
    for n in found.values():
        if n.source == "model":
            stats["model"] += 1
        elif n.fallback_reason:
            stats["fallback"] += 1
        else:
            stats["heuristic"] += 1
    return found, stats


def classify_all(commits: Sequence[CommitFacts], previous: Sequence[CommitFacts], config: Config
                 ) -> dict[str, Classification]:
    """Categories and areas for both periods; a root package holding most of the work is split one level."""
    rules, areas = config.get("classify.rules", []), config.get("areas", {})
    classifier = Classifier(rules, areas)
    classes = {c.sha: classifier.classify(c) for c in commits}
    dominant = dominant_area(classes[c.sha] for c in commits if not c.is_merge)
    if dominant is not None:  # only the areas change: categories stay as classified
        classifier = Classifier(rules, areas, split_areas=[dominant])
        classes = {c.sha: replace(classes[c.sha], areas=classifier.areas_of([f.path for f in c.files]))
                   for c in commits}
    classes.update((c.sha, classifier.classify(c)) for c in previous)
    return classes


def build(
    request: ReportRequest,
    config: Config,
    cache: Cache | None,
    progress: ProgressSink | None = None,
    now: datetime | None = None,
    engine: Any | None = None,
    repo: Repository | None = None,
) -> Report:
    """Run every stage for one report and return its content model."""
    window = resolve_window(request.since, request.until, config, now)
    outcome = walk(request, config, window, cache, progress, repo)
    classes = classify_all(outcome.commits, outcome.previous, config)
    engine_name = request.engine or config.get("engine", "heuristic")
    if engine is None:
        engine = registry.create(engine_name, config.section(f"engines.{engine_name}"))
    narrations, stats = narrate(outcome.commits, classes, engine, outcome.repo, cache, progress)
    thresholds = Thresholds(
        large_change_lines=config.get("report.large_change_lines", 400),
        hotspot_min_commits=config.get("report.hotspot_min_commits", 5),
        fix_share_warning=config.get("report.fix_share_warning", 0.5),
        highlights=config.get("report.highlights", 6),
    )
    previous = None
    if request.compare and window.since is not None and outcome.compared:
        previous = PeriodInput(outcome.previous, classes, window.since - (window.until - window.since),
                               window.since - timedelta(microseconds=1))
    per_person = config.get("report.per_person", False) if request.per_person is None else request.per_person
    report = build_report(
        period=PeriodInput(outcome.commits, classes, window.since, window.until),
        narrations=narrations,
        previous=previous,
        repository=outcome.repo.name,
        revision=outcome.revision_label,
        tz=window.tz,
        tz_name=window.tz_name,
        generated_at=current_time(window.tz),
        title=request.title or config.get("report.title", ""),
        thresholds=thresholds,
        per_person=per_person,
        releases=releases_in(outcome.repo, outcome.commits),
        engine={"name": engine.name, "fingerprint": engine.fingerprint(), "prompt_version": PROMPT_VERSION,
                "narrations": stats, "headline_source": "facts"},
        notes=outcome.notes,
    )
    return _maybe_model_headline(report, engine)


def _maybe_model_headline(report: Report, engine: Any) -> Report:
    writer = getattr(engine, "write_headline", None)
    if writer is None or report.empty:
        return report
    facts = {"numbers": report.to_context()["numbers"], "period": report.period_label,
             "headline": report.headline, "repository": report.repository}
    sentences = [h.text for h in report.highlights] or [c.narration for c in report.commits[:10]]
    try:
        text = writer(facts, sentences)
    except NarratorError as exc:
        log.warning("model headline failed, keeping the computed one: %s", exc)
        return report
    if text:
        report.headline = text
        report.engine["headline_source"] = "model"
    return report
