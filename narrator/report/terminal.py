"""The terminal view of a report (``--format term``), drawn with rich.

Commit-derived text is only ever wrapped in ``rich.text.Text`` after ``one_line`` has removed escape
sequences and control characters, so neither rich markup (``[bold]``) nor terminal codes in a commit
message can style, move or link anything: they print literally.
"""

from __future__ import annotations

from io import StringIO
from typing import Any, Mapping, Sequence

from rich import box
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from narrator import categories
from narrator.report.model import Report
from narrator.report.text import day_words, join_words, one_line, sentence
from narrator.report.view import View, build_view

__all__ = ["render_terminal", "render_terminal_text", "sparkline"]

_BLOCKS = "▂▃▄▅▆▇█"
_SECTION = "bold"


def _t(value: object, style: str = "") -> Text:
    """Plain text from data: never parsed as markup, never carrying control characters."""
    return Text(one_line(value), style=style)


def sparkline(counts: Sequence[int], width: int = 72) -> str:
    """Block-character sparkline; long series are folded (summed) to fit ``width`` columns."""
    values = list(counts)
    if not values:
        return ""
    if len(values) > width:
        size = -(-len(values) // width)
        values = [sum(values[i:i + size]) for i in range(0, len(values), size)]
    top = max(values)
    if top <= 0:
        return "▁" * len(values)
    out = []
    for v in values:
        if v <= 0:
            out.append("▁")
        else:
            out.append(_BLOCKS[min(len(_BLOCKS) - 1, round((v / top) * (len(_BLOCKS) - 1)))])
    return "".join(out)


def _heading(console: Console, text: str) -> None:
    console.print()
    console.print(Text(text, style=_SECTION))


def _bar(value: int, top: int, width: int = 16) -> Text:
    cells = 0 if not top else max(1 if value else 0, round(width * value / top))
    return Text("█" * cells, style="blue")


def _render(report: Report, console: Console, detail: str = "short") -> None:
    view = build_view(report, detail=detail)
    n = report.numbers
    with_year = view.with_year

    title = _t(report.title, "bold")
    console.print(title)
    console.print(Text.assemble(_t(report.repository), " · ", _t(report.revision), " · ",
                                _t(report.period_label), style="dim"))
    if report.empty:
        console.print()
        console.print(Panel(_t(report.headline), border_style="dim", expand=True))
        _notes(report, console)
        _footer(view, console)
        return

    console.print()
    figures = Text.assemble(
        (f"{n.work_commits:,}", "bold"), " commits of work · ", (f"{n.contributors:,}", "bold"),
        " contributor · " if n.contributors == 1 else " contributors · ", (f"{n.files_touched:,}", "bold"),
        " file · " if n.files_touched == 1 else " files · ",
        (f"+{n.lines_added:,}", "bold green"), " / ", (f"−{n.lines_deleted:,}", "bold red"), " lines",
        style="dim")
    console.print(Panel(Group(_t(report.headline), Text(), figures), title=Text("In short", style="bold"),
                        title_align="left", border_style="blue", padding=(0, 1)))

    if view.releases or report.highlights:
        _heading(console, "Highlights")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(ratio=1)
        for r in view.releases:
            if r.summary:
                grid.add_row(_t(r.day), _t(r.summary, "bold"))
                continue
            if r.group:
                names = join_words([f"{g.name} ({g.day})" for g in r.group])
                grid.add_row(_t(r.day), Text.assemble(("Releases ", "bold"), _t(names, "bold"), (" went out.", "bold")))
                continue
            grid.add_row(_t(r.day), Text.assemble(("Release ", "bold"), _t(r.name, "bold"),
                                                     (" went out.", "bold")))
        for h in report.highlights:
            tag = categories.tag(h.category)
            grid.add_row(_t(view.when.get(h.sha, h.day)),
                         Text.assemble(_t(h.text), "  ", (tag, categories.color(h.category)),
                                       " ", _t(h.author, "dim")))
        console.print(Padding(grid, (0, 0, 0, 2)))

    if report.areas:
        _heading(console, "Where the work went")
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, expand=False)
        table.add_column("area")
        table.add_column("commits", justify="right")
        table.add_column("", no_wrap=True)
        table.add_column("what changed", ratio=1)
        top = max(a.commits for a in report.areas)
        for a in report.areas:
            table.add_row(_t(a.name), Text(f"{a.commits:,}"), _bar(a.commits, top, 12), _t(a.what))
        console.print(Padding(table, (0, 0, 0, 2)))
        console.print(Padding(_t(view.area_note, "dim"), (0, 0, 0, 2)))

    if report.categories:
        _heading(console, "Work by category")
        line = Text()
        for i, c in enumerate(report.categories):
            if i:
                line.append(" · ", style="dim")
            line.append_text(_t(c.name, categories.color(c.name)))
            line.append(f" {c.commits:,} ({float(c.share):.0%})")
        console.print(Padding(line, (0, 0, 0, 2)))

    if report.attention:
        _heading(console, "Needs attention")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold yellow", no_wrap=True)
        grid.add_column(ratio=1)
        for a in report.attention:
            lines = [Text.assemble(_t(sentence(a.title), "bold yellow"), " ", _t(a.detail))]
            lines += [Text.assemble("  – ", _t(item, "dim")) for item in a.items[:8]]
            if len(a.items) > 8:
                lines.append(Text(f"  … and {len(a.items) - 8:,} more", style="dim"))
            grid.add_row(Text("!"), Group(*lines))
        console.print(Padding(grid, (0, 0, 0, 2)))

    _heading(console, "Team")
    console.print(Padding(_t(view.team_summary), (0, 0, 0, 2)))
    if view.peak_summary:
        console.print(Padding(_t(view.peak_summary), (0, 0, 0, 2)))
    activity = report.activity
    if activity:
        width = max(10, min(72, console.width - 30))
        spark = sparkline([int(a.commits) for a in activity], width)
        console.print(Text.assemble("  ", (spark, "blue"), "  ",
                                    (f"commits per {view.activity_unit}, ", "dim"),
                                    _t(day_words(activity[0].day, with_year), "dim"), (" → ", "dim"),
                                    _t(day_words(activity[-1].day, with_year), "dim")))
    if report.per_person and report.people:
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False)
        for name, justify in (("person", "left"), ("commits", "right"), ("added", "right"),
                              ("removed", "right"), ("main kinds of work", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for p in report.people:
            kinds = ", ".join(f"{one_line(name)} {count:,}" for name, count in p.categories[:3])
            table.add_row(_t(p.name), Text(f"{p.commits:,}"), Text(f"{p.lines_added:,}"),
                          Text(f"{p.lines_deleted:,}"), _t(kinds))
        console.print(Padding(table, (0, 0, 0, 2)))

    if report.comparison:
        _heading(console, view.comparison_heading)
        console.print(Padding(_t(report.comparison.summary), (0, 0, 0, 2)))

    if report.bots:
        _heading(console, "Automated updates")
        console.print(Padding(Text(f"{len(report.bots):,} commits by automated accounts, kept apart from the "
                                   "team's work:"), (0, 0, 0, 2)))
        for e in report.bots[:10]:
            console.print(Text.assemble("    – ", _t(e.narration), " ",
                                        _t(f"({day_words(e.day, with_year)}, {one_line(e.author)})", "dim")))
        if len(report.bots) > 10:
            console.print(Text(f"    … and {len(report.bots) - 10:,} more", style="dim"))

    _notes(report, console)
    _footer(view, console)


def _notes(report: Report, console: Console) -> None:
    if report.notes:
        _heading(console, "Notes")
        for note in report.notes:
            console.print(Text.assemble("  – ", _t(note)))


def _footer(view: View, console: Console) -> None:
    console.print()
    console.print(Text.assemble("Generated by narrator on ", _t(view.generated), ". ", _t(view.engine_line),
                                style="dim"))


def render_terminal(report: Report | Mapping[str, Any], console: Console, detail: str = "short") -> None:
    """Print ``report`` (a ``Report`` or its saved context) on ``console``."""
    _render(report if isinstance(report, Report) else Report.from_context(report), console, detail)


def render_terminal_text(report: Report | Mapping[str, Any], width: int = 100, detail: str = "short") -> str:
    """The terminal view as plain text (no colours or escape codes), e.g. for ``--format term --output``."""
    buffer = StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None, no_color=True,
                      highlight=False, emoji=False, soft_wrap=False)
    render_terminal(report, console, detail)
    return buffer.getvalue()
