"""The team use case: several repositories in one report, each read exactly as it would be alone.

Every repository gets its own ``Session`` (its own ``.narrator.toml``, classifier, bot patterns) and its own
``Report`` from ``narrator.app.report.build`` over one shared window; the team model
(``narrator.report.team``) adds one headline, a row per repository and people counted once. The sessions share
one cache connection and one set of engines (a model is loaded at most once for the whole team), and each
keeps the facts it read in memory, so the second look at a commit (people, then the report) costs nothing
even with ``--no-cache``.

Repositories come from ``--repo`` (repeatable) or a ``[workspace.<name>]`` table of the user's config. Two
entries naming the same repository are an error; two different repositories with the same directory name are
told apart by their parent directories. A repository that cannot be opened or read (missing path, not a git
repository, unknown branch, broken ``.narrator.toml``) is named in ``TeamReport.problems`` and the others still
report; when none can be read the run fails.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from narrator.app.report import ReportRequest, WalkOutcome, build, report_window, walk
from narrator.app.session import Session
from narrator.cache import Cache
from narrator.config import Settings, load_settings
from narrator.errors import ConfigError, NarratorError, RepositoryError, RevisionError, UsageError
from narrator.git.facts import CommitFacts
from narrator.git.walker import Repository
from narrator.progress import ProgressSink
from narrator.report.team import RepositoryInput, RepositoryProblem, TeamReport, build_team_report
from narrator.timespec import Window, current_time, parse_period

log = logging.getLogger(__name__)

# Errors that belong to one repository (the others still report); anything else (an engine that cannot load,
# a --since that makes no sense) is the same for every repository and ends the run.
_REPOSITORY_ERRORS = (RepositoryError, RevisionError, ConfigError)


@dataclass(frozen=True)
class RepoSpec:
    """One repository of the team: where it is, and what the workspace says about it."""

    path: str
    name: str = ""  # "" : the repository's directory name
    branch: str = ""  # "" : HEAD (or the --branch flags)
    areas: Mapping[str, str] = field(default_factory=dict)  # the workspace's areas, tried before the repository's


@dataclass(frozen=True)
class TeamRequest:
    repos: tuple[RepoSpec, ...]
    report: ReportRequest = field(default_factory=ReportRequest)
    workspace: str = ""


def workspace_repos(settings: Settings, name: str) -> tuple[RepoSpec, ...]:
    """The repositories of ``[workspace.<name>]`` in the user's config; ``UsageError`` naming the known ones."""
    workspaces = settings.workspace or {}
    found = workspaces.get(name)
    if found is None:
        known = ", ".join(sorted(workspaces)) or "none is configured"
        raise UsageError(f"no workspace '{name}' in your config ({known}); add a [workspace.{name}] table to "
                         "the user config file (`narrate config show` prints its path)")
    return tuple(RepoSpec(path=os.path.expanduser(entry["path"]), name=repo_name, branch=entry.get("branch", ""),
                          areas=dict(entry.get("areas") or {})) for repo_name, entry in found.items())


def repos_from_paths(paths: Sequence[str]) -> tuple[RepoSpec, ...]:
    return tuple(RepoSpec(path=p) for p in paths)


class TeamSession(Session):
    """A session that keeps the facts it read in memory and shares its engines with the team's other sessions."""

    def __init__(self, repo: Repository, settings: Settings, cache: Cache | None, progress: ProgressSink | None,
                 engines: dict) -> None:
        super().__init__(repo, settings, cache, progress)
        self._engines = engines  # one engine (and model) for the whole team
        self._memo: dict[str, CommitFacts] = {}

    def facts(self, shas: Sequence[str], merge_files: bool = True,
              on_read: Callable[[list[CommitFacts]], None] | None = None) -> dict[str, CommitFacts]:
        memo = self._memo
        missing = [s for s in shas if s not in memo or (merge_files and not memo[s].files_known)]
        if missing:
            memo.update(super().facts(missing, merge_files, on_read))
        return {s: self._memo[s] for s in shas if s in self._memo}

    def fill_merges(self, shas: Sequence[str]) -> dict[str, CommitFacts]:
        filled = super().fill_merges(shas)
        self._memo.update(filled)
        return filled

    def close(self) -> None:  # the shared cache is closed by the Team
        self.cache = None


@dataclass
class Member:
    """One opened repository of the team."""

    name: str
    path: str
    spec: RepoSpec
    session: TeamSession


def _unique_names(entries: Sequence[tuple[str, str, bool]]) -> list[str]:
    """Display names: the given or directory name; clashing directory names get their parent directories."""
    names = [name for name, _, _ in entries]
    for _ in range(6):
        counts = Counter(names)
        clashing = [i for i, n in enumerate(names) if counts[n] > 1 and not entries[i][2]]
        if not clashing:
            break
        for i in clashing:
            parts = Path(os.path.abspath(entries[i][1])).parts
            depth = names[i].count("/") + 2
            names[i] = "/".join(parts[-depth:]) if len(parts) >= depth else entries[i][1]
    counts = Counter(names)
    dupes = sorted(n for n, c in counts.items() if c > 1)
    if dupes:
        raise UsageError(f"two repositories are both called '{dupes[0]}'; give the workspace entries different "
                         "names")
    return names


class Team:
    """The team's opened repositories (one session each, sharing a cache and engines) and those that failed."""

    def __init__(self, members: list[Member], problems: list[RepositoryProblem], settings: Settings,
                 cache: Cache | None, notes: list[tuple[str, str]]) -> None:
        self.members = members
        self.problems = problems
        self.settings = settings  # the user's own settings (no repository's file): delivery, workspace, report
        self.cache = cache
        self.notes = notes  # (repository name, settings note)

    @classmethod
    def open(cls, specs: Sequence[RepoSpec], overrides: Mapping[str, Any] | None = None, *,
             use_cache: bool = True, progress: ProgressSink | None = None,
             settings: Settings | None = None) -> "Team":
        if not specs:
            raise UsageError("no repository to report on; give --repo PATH (repeatable) or --workspace NAME")
        settings = settings or load_settings(None, overrides=overrides)
        opened: list[tuple[RepoSpec, Repository | None, str]] = []
        for spec in specs:
            try:
                opened.append((spec, Repository.open(spec.path), ""))
            except RepositoryError as exc:
                opened.append((spec, None, str(exc)))
        seen: dict[tuple[str, str], str] = {}
        for spec, repo, _ in opened:
            if repo is None:
                continue
            for ident in (("root", os.path.realpath(repo.root)), ("key", repo.key)):
                if ident in seen:
                    raise UsageError(f"the repository {repo.root} is given twice (as {seen[ident]} and "
                                     f"{spec.name or spec.path}); give each repository once")
            seen[("root", os.path.realpath(repo.root))] = seen[("key", repo.key)] = spec.name or spec.path
        names = _unique_names([(spec.name or (repo.name if repo else Path(os.path.abspath(spec.path)).name),
                                repo.root if repo else spec.path, bool(spec.name)) for spec, repo, _ in opened])
        cache = Cache() if use_cache else None
        engines: dict = {}
        members, problems, notes = [], [], []
        try:
            for (spec, repo, error), name in zip(opened, names):
                if repo is None:
                    problems.append(RepositoryProblem(name, spec.path, error))
                    continue
                try:
                    repo_settings = _member_settings(repo, spec, overrides)
                except ConfigError as exc:
                    problems.append(RepositoryProblem(name, repo.root, str(exc)))
                    continue
                notes.extend((name, note) for note in repo_settings.notes)
                members.append(Member(name, repo.root, spec, TeamSession(repo, repo_settings, cache, progress,
                                                                          engines)))
        except BaseException:
            if cache is not None:
                cache.close()
            raise
        return cls(members, problems, settings, cache, notes)

    def close(self) -> None:
        for member in self.members:
            member.session.close()
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def __enter__(self) -> "Team":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _member_settings(repo: Repository, spec: RepoSpec, overrides: Mapping[str, Any] | None) -> Settings:
    settings = load_settings(None if repo.bare else repo.root, overrides=overrides)
    if spec.areas:  # the workspace's areas first (first match wins), then the repository's own
        merged = {**spec.areas, **{k: v for k, v in settings.areas.items() if k not in spec.areas}}
        settings = settings.with_overrides({"areas": merged}, source="workspace")
    return settings


def _member_request(request: TeamRequest, member: Member) -> ReportRequest:
    base = request.report
    revisions = base.revisions or ((member.spec.branch,) if member.spec.branch and not base.all_branches else ())
    return replace(base, revisions=revisions, title=None)


def team_window(team: Team, request: TeamRequest, now: datetime | None = None) -> tuple[Window, list[str]]:
    """One window for every repository: in the zone most of them would use alone (the first one's on a tie);
    a note when some repository's own zone differs."""
    windows: list[tuple[Member, Window]] = []
    for member in team.members:
        try:
            windows.append((member, report_window(member.session, _member_request(request, member), now)))
        except _REPOSITORY_ERRORS:
            continue  # reported when the repository is read
    if not windows:
        from narrator.timespec import resolve_window

        zone = team.settings.timezone
        return resolve_window(request.report.since, request.report.until,
                              "local" if zone == "repository" else zone, now), []
    zones = Counter(w.tz_name for _, w in windows)
    best = max(zones.values())
    chosen = next(w for _, w in windows if zones[w.tz_name] == best)
    others = [m.name for m, w in windows if w.tz_name != chosen.tz_name]
    notes = []
    if others:
        owner = next(m.name for m, w in windows if w.tz_name == chosen.tz_name)
        notes.append(f"Dates are in {chosen.tz_name}, the time most commits of {owner} were made with; "
                     f"{', '.join(others)} mostly commit{'s' if len(others) == 1 else ''} in another offset, so "
                     "day boundaries there may differ by a few hours from its own report.")
    return chosen, notes


def _people(commits: Sequence[CommitFacts]) -> dict[str, tuple[str, int]]:
    """Person key (after .mailmap) -> (name, work commits): the same rule as one report's contributors."""
    out: dict[str, tuple[str, int]] = {}
    for c in commits:
        if c.is_merge or c.is_bot:
            continue
        name, count = out.get(c.author.key, (c.author.name or c.author.email, 0))
        out[c.author.key] = (name, count + 1)
    return out


def build_team(team: Team, request: TeamRequest, now: datetime | None = None,
               window: Window | None = None, title: str | None = None) -> TeamReport:
    """Every repository's own report over one window, gathered into the team report."""
    notes: list[str] = []
    if window is None:
        window, notes = team_window(team, request, now)
    inputs: list[RepositoryInput] = []
    problems = list(team.problems)
    for member in team.members:
        session, member_request = member.session, _member_request(request, member)
        try:
            outcome: WalkOutcome = walk(session, member_request, window)
            report = build(session, member_request, now=now, window=window)
        except _REPOSITORY_ERRORS as exc:
            problems.append(RepositoryProblem(member.name, member.path, str(exc)))
            continue
        except NarratorError as exc:
            if type(exc) is not NarratorError:  # an engine, cache or output problem: the same for everyone
                raise
            problems.append(RepositoryProblem(member.name, member.path, str(exc)))
            continue
        inputs.append(RepositoryInput(
            name=member.name, path=member.path, report=report, people=_people(outcome.commits),
            previous_people=frozenset(_people(outcome.previous)) if report.comparison is not None else None,
        ))
    if not inputs:
        reasons = "; ".join(f"{p.name}: {p.reason}" for p in problems)
        raise RepositoryError(f"no repository could be read ({reasons})")
    order = {m.name: i for i, m in enumerate(team.members)}
    problems.sort(key=lambda p: order.get(p.name, -1))
    return build_team_report(
        inputs=inputs, problems=problems, since=window.since, until=window.until, timezone=window.tz_name,
        generated_at=current_time(window.tz), workspace=request.workspace,
        title=title if title is not None else (request.report.title or ""),
        per_person=team.settings.report.per_person if request.report.per_person is None else
        request.report.per_person,
        notes=notes, comparison_name=parse_period(request.report.compare_with).name,
    )
