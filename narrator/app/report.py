"""The report use case: a window of history -> the ``Report`` content model, over one session.

walk (list the window and the period before it) -> facts (cached) -> bots marked -> filters -> classify -> judge
-> narrate (cached; ``narrator.app.narrations``) -> aggregate (``narrator.report.aggregate``, fed each commit with
its sentence read back from the cache a chunk at a time) -> optional model headline. Rendering is the caller's.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Iterator, Sequence

from narrator.app.evidence import Judged, JudgedAhead, PatchPrefetch, judge, merge_work
from narrator.app.session import Session
from narrator.engines.base import Engine, HeadlineWriter
from narrator.errors import NarratorError, RepositoryError
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.filters import CommitFilter
from narrator.evidence.forge import forge_of
from narrator.git.history import Tag, dominant_offset, last_commit_before, remote_url, tags_on
from narrator.git.merges import merges_needing_files
from narrator.git.walker import WalkSpec, list_commits
from narrator.prompts import PROMPT_VERSION
from narrator.report.aggregate import build_report_from
from narrator.report.model import Judgment, PeriodInput, Report, Thresholds
from narrator.timespec import Window, current_time, fixed_zone, parse_period, resolve_window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportRequest:
    """What the user asked for (already parsed from flags); ``None`` means "use the settings/default"."""

    since: str | datetime | None = None
    until: str | datetime | None = None
    revisions: tuple[str, ...] = ()
    all_branches: bool = False
    filter: CommitFilter = field(default_factory=CommitFilter)
    include_bots: bool | None = None
    engine: str | None = None
    title: str | None = None
    per_person: bool | None = None
    compare_with: str | None = None  # --compare-with PERIOD (narrator.timespec.parse_period); None: previous


def comparison_window(request: ReportRequest, window: Window) -> Window | None:
    """The period the report is compared with (default: the one of the same length just before)."""
    return parse_period(request.compare_with).resolve(window)


@dataclass
class WalkOutcome:
    """The window's commits and the previous period's, prepared (bots marked, filters applied)."""

    commits: list[CommitFacts]
    previous: list[CommitFacts]
    revision_label: str
    notes: list[str] = field(default_factory=list)
    compared: bool = True  # False when the previous period could not be read
    ahead: JudgedAhead | None = None  # what was judged while git walked (None: nothing, or filters in use)


def walk(session: Session, request: ReportRequest, window: Window, freeze_batches: bool = False) -> WalkOutcome:
    """The window's commits and the previous period's, prepared; each batch judged while git walks on
    (``JudgedAhead``). ``freeze_batches``: what each batch leaves is frozen out of the collector's full passes
    (``gc.freeze``: the caller unfreezes)."""
    repo = session.repo
    revisions = request.revisions or ("HEAD",)
    if not request.all_branches:
        for rev in revisions:
            repo.resolve(rev)
    elif not repo.has_commits():
        raise NarratorError(f"repository {repo.root} has no commits yet: nothing to report")
    label = "all branches" if request.all_branches else ", ".join(
        (repo.current_branch() or "HEAD (detached)") if r == "HEAD" else r for r in revisions)
    previous = comparison_window(request, window)
    spec = WalkSpec(revisions=tuple(revisions), all_branches=request.all_branches,
                    since=previous.since if previous else window.since, until=window.until)
    listed = list_commits(repo, spec, index=session.history(revisions, request.all_branches))
    current_shas = [s for s, when in listed if window.since is None or when >= window.since]
    previous_shas = [s for s, when in listed if window.since is not None and when < window.since
                     and previous is not None and previous.since <= when <= previous.until]
    kept = request.filter  # a filter by author or path may keep a merge without the commits it brought in
    filtered = bool(kept.authors or kept.paths or kept.excludes)

    def prepared_batch(batch: Sequence[CommitFacts]) -> list[CommitFacts]:
        return request.filter.apply(session.mark_bots(batch, request.include_bots))

    # judging starts on the commits read while git walks on (two cores); a filter by author or path changes
    # which commits are judged together, so then it all waits for the walk
    engine = session.engine(request.engine)
    ahead = None if filtered else JudgedAhead(session, prepared_batch,
                                              engine if engine.name == "heuristic" else None, len(current_shas))
    on_read = ahead
    if ahead is not None and freeze_batches:
        def on_read(batch: list[CommitFacts]) -> None:
            ahead(batch)
            gc.freeze()
    try:
        facts = _with_merge_files(session, session.facts(current_shas, merge_files=False, on_read=on_read),
                                  current_shas, everything=filtered)
    except BaseException:
        if ahead is not None and ahead.diffs is not None:
            ahead.diffs.close()  # no diff read ahead is wanted any more: its thread ends
        raise
    notes, compared = [], True
    try:  # the comparison is secondary: a damaged older history must not cost the whole report
        # the previous period is summed over work commits only: its merges' files are never read
        facts.update(session.facts(previous_shas, merge_files=False))
    except RepositoryError as exc:
        log.warning("previous period unreadable: %s", exc)
        previous_shas, compared = [], False
        notes.append(f"The previous period could not be read, so there is no comparison ({exc}).")

    def prepared(shas: Sequence[str]) -> list[CommitFacts]:
        return prepared_batch([facts[s] for s in shas if s in facts])

    if repo.shallow:
        oldest = min((facts[s].committed_at for s in facts), default=None)
        cut = f" at {oldest.astimezone(window.tz).date().isoformat()}" if oldest else ""
        notes.append(f"This is a shallow clone: the history is cut{cut}, so older work is not counted.")
    return WalkOutcome(commits=prepared(current_shas), previous=prepared(previous_shas), revision_label=label,
                       notes=notes, compared=compared, ahead=ahead)


def _with_merge_files(session: Session, facts: dict[str, CommitFacts], shas: Sequence[str],
                      everything: bool) -> dict[str, CommitFacts]:
    """The window's facts with the files of exactly the merges that may have brought in work from outside it
    (``narrator.git.merges``; ``everything``: of every merge, as filters by author or path need them). The other
    merges go without files whether or not the cache holds them, so a report is the same cold and warm."""
    window = {s: facts[s] for s in shas if s in facts}
    needed = set(window) if everything else set(merges_needing_files(window))
    unread = [s for s, c in window.items() if c.is_merge and not c.files_known and s in needed]
    if unread:
        facts.update(session.fill_merges(unread))
    for sha, c in window.items():
        if c.is_merge and c.files_known and sha not in needed:
            facts[sha] = replace(c, files=(), files_known=False)
    return facts


def report_window(session: Session, request: ReportRequest, now: datetime | None = None) -> Window:
    """The window in the configured zone; by default (``repository``) in the offset most of its commits have."""
    setting = session.settings.timezone
    if setting != "repository":
        return resolve_window(request.since, request.until, setting, now)
    rough = resolve_window(request.since, request.until, "UTC", now)
    revisions = request.revisions or ("HEAD",)
    offset = None
    if session.repo.has_commits():
        index = session.history(revisions, request.all_branches)
        offset = dominant_offset(session.repo, rough.since, rough.until, revisions, request.all_branches, index=index)
        if offset is None:  # a quiet window: the time of the commits before it
            offset = dominant_offset(session.repo, None, rough.until, revisions, request.all_branches, limit=500,
                                     index=index)
    if offset is None:
        return resolve_window(request.since, request.until, "local", now)
    return resolve_window(request.since, request.until, "repository", now, tz=fixed_zone(offset))


def build(session: Session, request: ReportRequest, now: datetime | None = None,
          window: Window | None = None) -> Report:
    """Run every stage for one report and return its content model."""
    window = window or report_window(session, request, now)
    # What the walk builds (the window's facts, what is judged ahead) lives until the report is made: the
    # collector's full passes over every object (numpy: 10 during the walk, 1.5 s, and half a second after it,
    # finding no cycle) leave it out, batch by batch, until then, and have it back after.
    gc.freeze()
    try:
        outcome = walk(session, request, window, freeze_batches=True)
        gc.freeze()
        try:
            return _walked_report(session, request, window, outcome)
        except BaseException:
            if outcome.ahead is not None and outcome.ahead.diffs is not None:
                outcome.ahead.diffs.close()  # judging failed before it took the diffs read ahead
            raise
    finally:
        gc.unfreeze()


def _walked_report(session: Session, request: ReportRequest, window: Window, outcome: WalkOutcome) -> Report:
    """Every stage after the walk, for ``build``."""
    ahead = outcome.ahead
    prefetch = PatchPrefetch(session, outcome.commits, ahead)  # git diffs on another core while classifying
    # the classifications judged ahead are kept as they are (judging compares identities)
    both = [*outcome.commits, *outcome.previous]
    early = {c.sha: ahead.classes[c.sha] for c in outcome.commits if c.sha in ahead.classes and ahead.as_walked(c)} \
        if ahead is not None else {}
    fresh = session.classify(c for c in both if c.sha not in early)
    classes = {c.sha: early[c.sha] if c.sha in early else fresh[c.sha] for c in both}
    del early, fresh
    if ahead is not None:
        ahead.classes.clear()  # in ``classes`` now
    tags = tags_on(session.repo, outcome.commits)
    merged_work = merge_work(outcome.commits)  # a merge is described by the work it brought in
    if ahead is not None:  # while git reads the diffs judging wants
        ahead.narrate_merges(outcome.commits, classes, merged_work)
    judged = judge(session, outcome.commits, classes, tags, prefetch, ahead)
    try:
        return _judged_report(session, request, window, outcome, classes, judged, tags, merged_work)
    finally:
        judged.close()


def _judged_report(session: Session, request: ReportRequest, window: Window, outcome: WalkOutcome,
                   classes: dict[str, Classification], judged: Judged, tags: Sequence[Tag],
                   merged_work: dict[str, str]) -> Report:
    """Narrating and building the report, for ``_walked_report``: each commit's judgment is read back in the
    window's order beside its sentence."""
    settings = session.settings
    classes.update(judged.changed)  # what the changelog entries say a commit is
    descriptions = judged.descriptions
    descriptions.update(merged_work)
    engine = session.engine(request.engine)
    # every sentence made or found now; read back a chunk at a time while the report is built (never all held)
    narrations = session.narrations(outcome.commits, classes, engine, descriptions,
                                    outcome.ahead.narrated if outcome.ahead is not None else 0)

    def after_narrating() -> list[str]:  # e.g. the model could not be reached: heuristic sentences used
        engine_note = getattr(engine, "note", None)
        return [*outcome.notes, str(engine_note)] if engine_note else outcome.notes

    def fed() -> Iterator[tuple[CommitFacts, Classification, Narration, Judgment | None]]:
        for (c, n), j in zip(narrations, judged, strict=True):
            yield c, classes[c.sha], n, j

    report_settings = settings.report
    thresholds = Thresholds(
        large_change_lines=report_settings.large_change_lines,
        hotspot_min_commits=report_settings.hotspot_min_commits,
        fix_share_warning=report_settings.fix_share_warning,
        highlights=report_settings.highlights,
    )
    last_activity = None
    if not outcome.commits and window.since is not None and session.repo.has_commits():
        last_activity = last_commit_before(session.repo, window.since, request.revisions or ("HEAD",),
                                           request.all_branches)
    before = comparison_window(request, window)
    previous = PeriodInput(outcome.previous, classes, before.since, before.until) \
        if before is not None and outcome.compared else None
    report = build_report_from(
        fed, len(outcome.commits),
        tz=window.tz,
        thresholds=thresholds,
        judged=len(judged) > 0,
        themes=judged.themes,
        forge=forge_of(remote_url(session.repo)),
        engine=lambda: {"name": engine.name, "fingerprint": engine.fingerprint(), "prompt_version": PROMPT_VERSION,
                        "model": engine_model_label(engine), "narrations": narrations.stats,
                        "headline_source": "facts"},
        notes=after_narrating,
        since=window.since,
        until=window.until,
        previous=previous,
        repository=session.repo.name,
        revision=outcome.revision_label,
        tz_name=window.tz_name,
        generated_at=current_time(window.tz),
        title=request.title or report_settings.title,
        per_person=report_settings.per_person if request.per_person is None else request.per_person,
        releases=[(t.name, t.sha, t.committed_at) for t in tags],
        last_activity=last_activity,
        comparison_name=parse_period(request.compare_with).name,
    )
    return _model_headline(session, report, engine)


def engine_model_label(engine: Engine) -> str | None:
    """The model behind an engine, as a report names it (``model_label``, an optional engine attribute)."""
    try:
        label = getattr(engine, "model_label", None)
    except NarratorError:  # pragma: no cover - the engine has already narrated, so its model is known
        return None
    return str(label) if label else None


def _model_headline(session: Session, report: Report, engine: Engine) -> Report:
    if report.empty or not isinstance(engine, HeadlineWriter):
        return report
    facts = {"numbers": asdict(report.numbers), "period": report.period_label, "headline": report.headline,
             "repository": report.repository}
    sentences = [h.text for h in report.highlights] or [c.narration for c in report.commits[:10]]
    text = session.headline(engine, facts, sentences)
    if text:
        report.headline = text
        report.engine["headline_source"] = "model"
    return report
