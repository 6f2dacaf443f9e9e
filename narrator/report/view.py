"""Presentation values computed once from the typed ``Report``: sentences made of numbers, labels, charts.

Every renderer (Markdown and HTML templates, the terminal, user templates) reads these from one ``View``
instead of recomputing them; they are not part of the JSON context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from narrator import categories
from narrator.report import charts
from narrator.report.model import Report
from narrator.report.text import are, day_label, day_words, join_words, one_line, period_words, plural


@dataclass(frozen=True)
class ReleaseLine:
    name: str
    day: str
    url: str = ""
    notes: tuple[str, ...] = ()
    group: tuple["ReleaseLine", ...] = ()  # releases whose notes say nothing more, said in one line
    summary: str = ""  # the one sentence of a line standing for many earlier releases (plain text)


RELEASE_LINES = 6  # release lines of a short report; the earlier releases are one line


def _recent_release_lines(lines: list[ReleaseLine], detail: str) -> list[ReleaseLine]:
    """A short report's release lines: the last ``RELEASE_LINES``, after one line for the earlier releases
    ("58 earlier releases went out, from 0.1 (16 April 2010) to 2.3.3 (21 August 2023)."); every line in full
    detail. A whole history's releases would otherwise fill the highlights."""
    if detail == "full" or len(lines) <= RELEASE_LINES + 1:
        return lines
    older, recent = lines[:-RELEASE_LINES], lines[-RELEASE_LINES:]
    releases = [g for line in older for g in (line.group or (line,))]
    first, last = releases[0], releases[-1]
    summary = (f"{len(releases):,} earlier releases went out, from {first.name} ({first.day}) to {last.name} "
               f"({last.day}).")
    return [ReleaseLine(f"{first.name} to {last.name}", last.day, summary=summary), *recent]


def _release_lines(lines: list[ReleaseLine]) -> list[ReleaseLine]:
    """Releases with notes one per line; two or more without notes that follow one another in one line
    ("Releases 4.18.0 (31 March) and 4.18.1 (1 April) went out."), dated by the last of them, where they were
    (a release with notes between them keeps its place: a long window's releases stay in the order they went out)."""
    out: list[ReleaseLine] = []
    run: list[ReleaseLine] = []

    def close_run() -> None:
        if len(run) > 1:
            out.append(ReleaseLine(join_words([b.name for b in run]), run[-1].day, run[-1].url, (), tuple(run)))
        else:
            out.extend(run)
        run.clear()

    for r in lines:
        if r.notes:
            close_run()
            out.append(r)
        else:
            run.append(r)
    close_run()
    return out


@dataclass(frozen=True)
class View:
    team_summary: str
    peak_summary: str
    engine_line: str
    generated: str
    area_note: str
    comparison_heading: str
    comparison_rows: list[tuple[str, int, int]]
    comparison_label: str
    releases: list[ReleaseLine]
    when: dict[str, str]  # commit sha -> its day in words ("19 February", with the year when the period spans two)
    with_year: bool
    open_all_categories: bool
    activity_unit: str
    charts: dict[str, Markup] = field(default_factory=dict)
    detail: str = "short"  # "short": what a manager reads; "full": every commit listed too
    attention_items: int = 5  # items shown under each attention point in a short report

    def __getitem__(self, key: str) -> Any:  # templates and callers may use view["x"] or view.x
        return getattr(self, key)


def _team_summary(report: Report) -> str:
    n = report.numbers
    parts = [are(n.work_commits, "work", "work")]
    if n.merges:
        split = []
        if n.pr_merges:
            split.append(plural(n.pr_merges, "reviewed contribution"))
        if n.branch_syncs:
            split.append(plural(n.branch_syncs, "branch sync"))
        parts.append(are(n.merges, "a merge", "merges") + (f" ({', '.join(split)})" if split else ""))
    if n.bot_commits:
        parts.append(are(n.bot_commits, "an automated update", "automated updates"))
    commits = plural(n.commits, "commit")
    breakdown = f", of which {join_words(parts)}" if len(parts) > 1 or n.work_commits != n.commits else ""
    helpers = []
    if n.co_authors:
        helpers.append(f"co-authored by {join_words(list(n.co_authors[:3]))}"
                       + (f" and {len(n.co_authors) - 3:,} more" if len(n.co_authors) > 3 else ""))
    if n.mergers:
        helpers.append(f"merged by {join_words(list(n.mergers[:3]))}"
                       + (f" and {len(n.mergers) - 3:,} more" if len(n.mergers) > 3 else ""))
    who = plural(n.contributors, "contributor") + (f" (plus work {'; '.join(helpers)})" if helpers else "")
    return (f"{who}; {commits}{breakdown}; "
            f"{plural(n.files_touched, 'file')} touched, {n.lines_added:,} lines added and "
            f"{n.lines_deleted:,} removed.")


def _peak_summary(report: Report) -> str:
    peaks = [p for i, p in enumerate(report.peak_days) if p.commits and (i == 0 or p.commits > 1)]
    if not peaks:
        return ""
    weekly = report.activity_unit == "week"
    where = [f"{'the ' if weekly else ''}{p.label} ({plural(p.commits, 'commit')})" for p in peaks]
    days = report.numbers.active_days
    active = f" Work happened on {plural(days, 'day')} of {report.numbers.days_in_period:,}." if days else ""
    return f"Activity peaked {'in' if weekly else 'on'} {join_words(where)}.{active}"


def _engine_line(report: Report) -> str:
    """The footer's account of who wrote the commit descriptions: how many a model wrote (and which model), how
    many of its sentences the guard replaced, and how many commits got rule-based ones for another reason."""
    engine = report.engine or {}
    name = one_line(engine.get("name") or "unknown")
    stats = engine.get("narrations") or {}
    model, fallback = int(stats.get("model", 0) or 0), int(stats.get("fallback", 0) or 0)
    if model or fallback:
        rejected = int(stats.get("rejected", fallback) or 0)
        no_code, unavailable = int(stats.get("no_code", 0) or 0), int(stats.get("unavailable", 0) or 0)
        merges = int(stats.get("merge", 0) or 0)
        label = one_line(str(engine.get("model") or ""))
        who = "a small local model" if name == "hf" else "the model"
        who += f" ({label}, {name} engine)" if label else f" of the {name} engine"
        total = model + fallback + int(stats.get("heuristic", 0) or 0)
        line = f"Commit descriptions: {model:,} of {total:,} written by {who}"
        if model or rejected:
            guard = plural(rejected, "of its sentences", "of its sentences") if rejected else "none of its sentences"
            line += f"; the guard replaced {guard} with rule-based ones"
            line += " (not supported by the commit)" if rejected else ""
        if merges:
            line += f"; {merges:,} rule-based (merges)"
        if no_code:
            line += f"; {no_code:,} rule-based (no code to read)"
        if unavailable:
            line += f"; {unavailable:,} rule-based (the model could not be reached)"
        line += "."
    elif name == "heuristic":
        line = "Commit descriptions by the built-in heuristic engine (offline, rule-based)."
    else:
        line = f"Commit descriptions by the {name} engine."
    if engine.get("headline_source") == "model":
        line += " The summary at the top was written by the model."
    return line


def _generated_label(report: Report) -> str:
    when = report.generated_at
    zone = one_line(report.timezone or "") or when.strftime("UTC%z")
    return f"{day_label(when.date(), True)} at {when:%H:%M} {zone}".strip()


def _comparison_rows(report: Report) -> list[tuple[str, int, int]]:
    cmp, n = report.comparison, report.numbers
    if not cmp:
        return []
    return [
        ("Commits of work", n.work_commits, cmp.work_commits),
        ("All commits", n.commits, cmp.commits),
        ("Contributors", n.contributors, cmp.contributors),
        ("Lines added", n.lines_added, cmp.lines_added),
        ("Lines removed", n.lines_deleted, cmp.lines_deleted),
    ]


def _release_days(report: Report) -> list[tuple[str, str]]:
    """(activity bucket day, release name) for the chart's release markers."""
    if not report.activity or not report.releases:
        return []
    by_sha = {c.sha: c.day for c in report.commits}
    by_label = {a.label: a.day for a in report.activity}
    weekly = report.activity_unit == "week"
    out = []
    for release in report.releases:
        day = by_sha.get(release.sha) or by_label.get(release.day)
        if not day:
            continue
        if weekly:
            d = date.fromisoformat(day)
            day = date.fromordinal(d.toordinal() - d.weekday()).isoformat()
        out.append((day, one_line(release.name)))
    return out


def _charts(report: Report) -> dict[str, Markup]:
    n = report.numbers
    activity = report.activity
    per = report.activity_unit
    peak = max(activity, key=lambda a: a.commits, default=None)
    activity_desc = (f"{n.commits - n.bot_commits:,} commits by people over {len(activity):,} {per}s"
                     + (f"; the busiest {per} was {one_line(peak.label)} with {peak.commits:,}."
                        if peak and peak.commits else "."))
    cats = [charts.BarRow(one_line(c.name), int(c.commits), categories.color(c.name), f"{float(c.share):.0%}")
            for c in report.categories]
    areas = [charts.BarRow(one_line(a.name), int(a.commits), charts.AREA_COLOR) for a in report.areas][:12]

    def desc(rows: list[charts.BarRow]) -> str:
        return "; ".join(f"{r.label}: {r.value:,}" for r in rows) + "."

    return {
        "activity": Markup(charts.activity_chart(
            activity, title=f"Commits per {per}", desc=activity_desc, chart_id="chart-activity",
            marks=_release_days(report))),
        "categories": Markup(charts.bar_chart(
            cats, title="Commits of work by category", desc=desc(cats), chart_id="chart-categories")),
        "areas": Markup(charts.bar_chart(
            areas, title="Commits of work by area", desc=desc(areas), chart_id="chart-areas")),
    }


def _spans_years(report: Report) -> bool:
    first = report.since or (date.fromisoformat(report.activity[0].day) if report.activity else report.until)
    return first.year != report.until.year


def _comparison_heading(report: Report) -> str:
    """"Compared with the previous two weeks", or with the chosen period's dates (``--compare-with``)."""
    cmp = report.comparison
    adjacent = cmp is None or report.since is None or timedelta(0) <= report.since - cmp.until <= timedelta(seconds=1)
    if adjacent:
        return f"Compared with the previous {period_words(report.numbers.days_in_period)}"
    return f"Compared with {one_line(cmp.label)}"


DETAILS = ("short", "full")


def build_view(report: Report, with_charts: bool = False, detail: str = "short") -> View:
    """Presentation-only values for one report (chart SVG only when asked: HTML needs it)."""
    n = report.numbers
    area_commits = sum(a.commits for a in report.areas)
    area_note = f"{plural(n.work_commits, 'commit')} of work"
    if area_commits > n.work_commits:
        area_note += "; one commit can touch several areas"
    with_year = _spans_years(report)
    # Day labels for highlights and releases, with the year when the period spans more than one.
    when = {c.sha: day_words(c.day, with_year) for c in report.commits}
    return View(
        team_summary=_team_summary(report),
        peak_summary=_peak_summary(report),
        engine_line=_engine_line(report),
        generated=_generated_label(report),
        area_note=f"({area_note}.)",
        comparison_heading=_comparison_heading(report),
        comparison_rows=_comparison_rows(report),
        comparison_label=report.comparison.label if report.comparison else "",
        releases=_recent_release_lines(_release_lines([
            ReleaseLine(one_line(r.name), when.get(r.sha) or day_words(r.date or r.day, with_year), r.url,
                        tuple(r.notes)) for r in report.releases]), detail),
        when=when,
        with_year=with_year,
        open_all_categories=n.work_commits <= 30,
        activity_unit=report.activity_unit,
        charts=_charts(report) if with_charts else {},
        detail=detail,
    )
