"""A team's report: several repositories' own reports gathered under one headline (pure aggregation + rendering).

Each repository keeps exactly the ``Report`` that ``narrate report --repo PATH`` would give for the same
window (its own settings, highlights and attention items); this module adds what only the team view knows:
one headline, a "where the work went" row per repository, people counted once across repositories (by the
identity their commits have after each repository's ``.mailmap``), a comparison of the team's totals, and the
repositories that could not be read. No I/O and no git here: the use case (``narrator.app.team``) gathers the
inputs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from markupsafe import Markup

from narrator import categories as category_table
from narrator.report import charts
from narrator.report.model import SCHEMA_VERSION, Report, period_label
from narrator.report.text import day_label, join_words, one_line, period_words, plural

__all__ = ["RepositoryInput", "RepositoryProblem", "RepositoryRow", "RepositorySection", "TeamComparison",
           "TeamNumbers", "TeamPerson", "TeamReport", "TeamView", "build_team_report", "build_team_view",
           "render_team", "team_context"]

KIND = "team"


@dataclass
class RepositorySection:
    name: str  # unique in this report: the repository's (or workspace entry's) name, with its parent if needed
    path: str  # where it was read (the work tree)
    report: Report  # exactly what `narrate report` says about this repository alone for the same window


@dataclass
class RepositoryProblem:
    name: str
    path: str
    reason: str  # one line: why it is not in the report


@dataclass
class RepositoryRow:
    name: str
    commits: int
    work_commits: int
    contributors: int
    lines_added: int
    lines_deleted: int
    share: float  # of the team's work commits
    what: str  # the repository's main kinds of work, in words
    releases: list[str]


@dataclass
class TeamPerson:
    name: str
    commits: int  # work commits across every repository
    repositories: list[str]


@dataclass
class TeamNumbers:
    repositories: int  # reported on (the ones that could be read)
    active_repositories: int  # with at least one commit in the window
    commits: int
    work_commits: int
    merges: int
    bot_commits: int
    contributors: int  # people counted once across repositories
    shared_contributors: int  # of them, people who worked in more than one repository
    files_touched: int
    lines_added: int
    lines_deleted: int
    releases: int


@dataclass
class TeamComparison:
    since: datetime
    until: datetime
    label: str
    work_commits: int
    contributors: int  # counted once across repositories
    summary: str


@dataclass
class TeamReport:
    schema_version: int
    kind: str  # always "team": tells a team report's JSON from one repository's
    title: str
    workspace: str  # the --workspace name, or "" for repositories given with --repo
    since: datetime | None
    until: datetime
    period_label: str
    generated_at: datetime
    timezone: str
    empty: bool  # no commits in any repository
    partial: bool  # some repository could not be read (see problems)
    headline: str
    numbers: TeamNumbers
    work: list[RepositoryRow]
    people: list[TeamPerson]
    per_person: bool
    comparison: TeamComparison | None
    repositories: list[RepositorySection]
    problems: list[RepositoryProblem]
    engine: dict[str, Any]
    notes: list[str]

    def to_context(self) -> dict[str, Any]:
        """The JSON-ready context the team templates (and ``--format json``) receive."""
        return team_context(self)


@dataclass(frozen=True)
class RepositoryInput:
    """One repository's part of the team report, as the use case gathered it."""

    name: str
    path: str
    report: Report
    people: Mapping[str, tuple[str, int]]  # person key (after .mailmap) -> (name, work commits in the window)
    previous_people: frozenset[str] | None = None  # person keys of the comparison period; None: no comparison


# -- aggregation --------------------------------------------------------------------------------------------

def _what(report: Report) -> str:
    cats = sorted(report.categories, key=lambda c: (-c.commits, c.name))
    return join_words([category_table.phrase(c.name, c.commits) for c in cats[:3]])


def _headline(numbers: TeamNumbers, rows: Sequence[RepositoryRow], categories: Counter[str],
              releases: Sequence[tuple[str, str]], problems: Sequence[RepositoryProblem], label: str) -> str:
    parts: list[str] = []
    missing = ""
    if problems:
        names = join_words([one_line(p.name) for p in problems])
        missing = f" {names} could not be read, so {'it is' if len(problems) == 1 else 'they are'} not counted."
    if numbers.commits == 0:
        where = plural(numbers.repositories, "repository", "repositories")
        return (f"No activity in {'the' if numbers.repositories == 1 else 'any of the'} {where} between "
                f"{label.replace(' to ', ' and ')}.{missing}")
    if releases:
        shown = list(releases)[-3:]
        more = f" and {len(releases) - len(shown)} more" if len(releases) > len(shown) else ""
        parts.append(f"Released {join_words([f'{repo} {name}' for repo, name in shown])}{more}.")
    repos = plural(numbers.active_repositories, "repository", "repositories")
    if numbers.work_commits == 0:
        parts.append(f"{plural(numbers.commits, 'commit')} landed in {repos}, none of them new work by the team.")
        return " ".join(parts) + missing
    who = plural(numbers.contributors, "person", "people")
    lead = f"{who} made {plural(numbers.work_commits, 'change')} across {repos}"
    if numbers.active_repositories == 1:
        lead = f"{who} made {plural(numbers.work_commits, 'change')}, all in {one_line(rows[0].name)}"
    delivered = [category_table.phrase(name, categories[name]) for name in category_table.DELIVERED
                 if categories.get(name)]
    if delivered:
        lead += f": {join_words(delivered)}"
    parts.append(lead + ".")
    busy = [r for r in rows if r.work_commits]
    if len(busy) > 1:
        top = busy[0]
        rest = join_words([f"{one_line(r.name)} ({r.work_commits:,})" for r in busy[1:3]])
        parts.append(f"Most of the work was in {one_line(top.name)} ({top.work_commits:,} changes), then {rest}.")
    if numbers.shared_contributors:
        parts.append(f"{plural(numbers.shared_contributors, 'person', 'people')} worked in more than one "
                     "repository.")
    return " ".join(parts) + missing


def _comparison(inputs: Sequence[RepositoryInput], numbers: TeamNumbers, name: str) -> TeamComparison | None:
    compared = [i.report.comparison for i in inputs]
    if not inputs or any(c is None for c in compared) or any(i.previous_people is None for i in inputs):
        return None
    first = compared[0]
    assert first is not None
    before = sum(c.work_commits for c in compared if c is not None)
    people: set[str] = set()
    for i in inputs:
        people |= set(i.previous_people or ())
    name_label = f"{name} ({first.label})"
    now = numbers.work_commits
    if before == 0 and now == 0:
        summary = f"As quiet as {name_label}: no work commits in any repository in either period."
    elif before == 0:
        summary = (f"{name_label[:1].upper()}{name_label[1:]} had no work commits in these repositories; this "
                   f"period had {now:,}.")
    else:
        change = (now - before) / before
        trend = "About as busy as" if abs(change) < 0.15 else ("Busier than" if change > 0 else "Quieter than")
        summary = (f"{trend} {name_label} across the team: {plural(now, 'work commit')} against {before:,}, "
                   f"{plural(numbers.contributors, 'person', 'people')} against {len(people):,}.")
    return TeamComparison(since=first.since, until=first.until, label=first.label, work_commits=before,
                          contributors=len(people), summary=summary)


def build_team_report(*, inputs: Sequence[RepositoryInput], problems: Sequence[RepositoryProblem] = (),
                      since: datetime | None, until: datetime, timezone: str, generated_at: datetime,
                      workspace: str = "", title: str = "", per_person: bool = False,
                      notes: Sequence[str] = (), comparison_name: str = "the previous period") -> TeamReport:
    """The team report over each repository's own report (same window for all)."""
    reports = [i.report for i in inputs]
    label = period_label(since, until) if since is not None else (reports[0].period_label if reports else
                                                                   day_label(until.date(), True))
    team_work = sum(r.numbers.work_commits for r in reports)
    rows = [RepositoryRow(
        name=i.name, commits=i.report.numbers.commits, work_commits=i.report.numbers.work_commits,
        contributors=i.report.numbers.contributors, lines_added=i.report.numbers.lines_added,
        lines_deleted=i.report.numbers.lines_deleted,
        share=i.report.numbers.work_commits / team_work if team_work else 0.0, what=_what(i.report),
        releases=[r.name for r in i.report.releases],
    ) for i in inputs]
    rows.sort(key=lambda r: (-r.work_commits, -r.commits, r.name))

    people: dict[str, dict[str, Any]] = {}
    for i in inputs:
        for key, (name, commits) in i.people.items():
            person = people.setdefault(key, {"name": name, "commits": 0, "repositories": []})
            person["commits"] += commits
            person["repositories"].append(i.name)
    team_people = sorted((TeamPerson(p["name"], p["commits"], p["repositories"]) for p in people.values()),
                         key=lambda p: (-p.commits, p.name))
    categories: Counter[str] = Counter()
    for r in reports:
        for c in r.categories:
            categories[c.name] += c.commits
    releases = sorted(((i.name, rel.name, rel.date) for i in inputs for rel in i.report.releases),
                      key=lambda x: (x[2], x[0]))
    numbers = TeamNumbers(
        repositories=len(inputs), active_repositories=sum(1 for r in reports if r.numbers.commits),
        commits=sum(r.numbers.commits for r in reports), work_commits=team_work,
        merges=sum(r.numbers.merges for r in reports), bot_commits=sum(r.numbers.bot_commits for r in reports),
        contributors=len(people), shared_contributors=sum(1 for p in people.values() if len(p["repositories"]) > 1),
        files_touched=sum(r.numbers.files_touched for r in reports),
        lines_added=sum(r.numbers.lines_added for r in reports),
        lines_deleted=sum(r.numbers.lines_deleted for r in reports), releases=len(releases),
    )
    headline = _headline(numbers, rows, categories, [(repo, name) for repo, name, _ in releases], problems, label)
    names = [i.name for i in inputs]
    default_title = (f"{workspace} \u2014 team report, {label}" if workspace else
                     f"{join_words(names) or 'Team'} \u2014 team report, {label}")
    engines = {r.engine.get("name") for r in reports if r.engine}
    return TeamReport(
        schema_version=SCHEMA_VERSION, kind=KIND, title=one_line(title or default_title), workspace=workspace,
        since=since, until=until, period_label=label, generated_at=generated_at.replace(microsecond=0),
        timezone=timezone, empty=numbers.commits == 0, partial=bool(problems), headline=headline,
        numbers=numbers, work=rows, people=team_people, per_person=per_person,
        comparison=_comparison(inputs, numbers, comparison_name),
        repositories=[RepositorySection(i.name, i.path, i.report) for i in inputs], problems=list(problems),
        engine=dict(reports[0].engine) if len(engines) == 1 and reports else {"name": ", ".join(sorted(
            e for e in engines if e))}, notes=list(notes),
    )


# -- context ------------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, Report):
        return value.to_context()  # each repository's context is exactly its own report's
    if isinstance(value, datetime):
        return value.isoformat()
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        return {name: _plain(getattr(value, name)) for name in fields}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def team_context(team: TeamReport) -> dict[str, Any]:
    """The team report as JSON-ready data (a repository's ``report`` is its own report's context)."""
    return _plain(team)


# -- presentation ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TeamView:
    team_summary: str
    people_note: str
    generated: str
    engine_line: str
    comparison_heading: str
    repository_line: str
    sections: list[dict[str, Any]]  # per repository: name, path, anchor, ctx (its report context), view (its View)
    anchors: dict[str, str]  # repository name -> its section's anchor in the HTML page
    charts: dict[str, Markup] = field(default_factory=dict)
    detail: str = "short"
    attention_items: int = 5

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def _team_summary(team: TeamReport) -> str:
    n = team.numbers
    shared = f", {n.shared_contributors:,} of them in more than one repository" if n.shared_contributors else ""
    return (f"{plural(n.contributors, 'person', 'people')} (counted once across repositories{shared}); "
            f"{plural(n.commits, 'commit')} in {plural(n.active_repositories, 'repository', 'repositories')}, "
            f"{plural(n.work_commits, 'commit')} of work; {n.lines_added:,} lines added and {n.lines_deleted:,} "
            "removed.")


def build_team_view(team: TeamReport, with_charts: bool = False, detail: str = "short") -> TeamView:
    from narrator.report.view import build_view

    sections = [{"name": s.name, "path": s.path, "anchor": f"repo-{index}", "ctx": s.report.to_context(),
                 "view": build_view(s.report, with_charts=False, detail=detail)}
                for index, s in enumerate(team.repositories, start=1)]
    first_view = sections[0]["view"] if sections else None
    when = team.generated_at
    generated = f"{day_label(when.date(), True)} at {when:%H:%M} {one_line(team.timezone) or when.strftime('UTC%z')}"
    cmp = team.comparison
    heading = ""
    if cmp is not None:
        adjacent = team.since is not None and timedelta(0) <= team.since - cmp.until <= timedelta(seconds=1)
        days = max(1, (team.until - team.since).days + 1) if team.since else 1
        heading = f"Compared with the previous {period_words(days)}" if adjacent else f"Compared with {cmp.label}"
    n = team.numbers
    counted = plural(n.repositories, "repository", "repositories")
    line = f"{counted}: {join_words([one_line(s.name) for s in team.repositories])}" if team.repositories else counted
    chart: dict[str, Markup] = {}
    if with_charts and team.work:
        rows = [charts.BarRow(one_line(r.name), int(r.work_commits), charts.AREA_COLOR, f"{r.share:.0%}")
                for r in team.work][:12]
        chart["repositories"] = Markup(charts.bar_chart(
            rows, title="Commits of work by repository",
            desc="; ".join(f"{r.label}: {r.value:,}" for r in rows) + ".", chart_id="chart-repositories"))
    note = (f"({plural(n.work_commits, 'commit')} of work; a person who worked in several repositories is counted "
            "in each row but once in the team's total.)")
    return TeamView(
        team_summary=_team_summary(team), people_note=note, generated=generated,
        engine_line=first_view.engine_line if first_view else "", comparison_heading=heading,
        repository_line=line, sections=sections, anchors={s["name"]: s["anchor"] for s in sections}, charts=chart,
        detail=detail,
    )


def render_team(team: TeamReport, fmt: str, detail: str = "short", extra: Mapping[str, Any] | None = None,
                template: str | None = None) -> str:
    """The team report as ``md``, ``html`` or ``json`` (``template``: another built-in team template, such
    as the weekly team digest, with ``extra`` variables)."""
    from narrator.report.json_out import context_json
    from narrator.report.render import render_template

    if fmt == "json":
        return context_json(team.to_context())
    if fmt not in ("md", "html"):
        from narrator.errors import UsageError

        raise UsageError(f"unknown team report format '{fmt}'; choose md, html, json or pdf")
    view = build_team_view(team, with_charts=fmt == "html", detail=detail)
    data = {**team.to_context(), "view": view, **(extra or {})}
    return render_template(template or f"team.{fmt}.j2", None, data)
