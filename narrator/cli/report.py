"""``narrate report``: flags -> a ReportRequest -> the report use case -> one rendered output."""

from __future__ import annotations

from pathlib import Path

import click

from narrator.cli.common import (check_output_path, choose_format, emit, model_options, model_overrides,
                                 open_session, repo_option, terminal_progress, verbose_option)
from narrator.errors import UsageError

FORMATS = ("md", "html", "json", "term")


@click.command("report")
@repo_option("Repository to report on.")
@click.option("--since", metavar="WHEN", help="Start of the window: 2w, 10d, 36h, yesterday, 'last monday', "
              "2026-11-01 ... (default: 2w).")
@click.option("--until", metavar="WHEN", help="End of the window, inclusive (default: now).")
@click.option("--branch", "branches", multiple=True, metavar="REF", help="Branch, tag or revision to walk "
              "(default: HEAD). Repeatable.")
@click.option("--all-branches", is_flag=True, help="Walk every local and remote-tracking branch.")
@click.option("--author", "authors", multiple=True, metavar="WHO", help="Only commits by this person (name or "
              "e-mail substring). Repeatable.")
@click.option("--path", "paths", multiple=True, metavar="GLOB", help="Only changes to matching files, e.g. "
              "'src/**'. Repeatable.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave out matching files. Repeatable.")
@click.option("--no-merges", is_flag=True, help="Leave merge commits out entirely.")
@click.option("--include-bots", is_flag=True, default=None, help="Count automated accounts (dependabot, "
              "renovate, *[bot]) as team work instead of listing them apart.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format (default: term on a terminal, "
              "md otherwise, or from the --output extension).")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--template", type=click.Path(dir_okay=False), metavar="FILE", help="Render with your own Jinja2 "
              "template (it receives the same context as --format json).")
@click.option("--engine", metavar="NAME", help="Narration engine: heuristic (offline default), hf, openai, or "
              "a plugin (`narrate engines` lists them).")
@model_options
@click.option("--title", metavar="TEXT", help="Report title.")
@click.option("--detail", type=click.Choice(("short", "full")), help="short (default): what a manager reads; "
              "full: every commit listed by category too.")
@click.option("--per-person", is_flag=True, default=None, help="Include a per-person breakdown.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def report_command(repo_path: str, since: str | None, until: str | None, branches: tuple[str, ...],
                   all_branches: bool, authors: tuple[str, ...], paths: tuple[str, ...], excludes: tuple[str, ...],
                   no_merges: bool, include_bots: bool | None, fmt: str | None, output: str | None,
                   template: str | None, engine: str | None, model: str | None, adapter: str | None,
                   title: str | None, detail: str | None, per_person: bool | None, no_cache: bool) -> None:
    """Write a progress report for a window of the history (default: the last two weeks)."""
    from narrator.app.report import ReportRequest, build
    from narrator.git.filters import CommitFilter

    if branches and all_branches:
        raise UsageError("--branch and --all-branches cannot be used together")
    if template and fmt and fmt != "md":
        raise UsageError("--template replaces --format; give one or the other")
    if template and not Path(template).is_file():
        raise UsageError(f"--template {template} does not exist")
    check_output_path(output)
    request = ReportRequest(
        since=since, until=until, revisions=branches, all_branches=all_branches,
        filter=CommitFilter(authors=authors, paths=paths, excludes=excludes, no_merges=no_merges),
        include_bots=include_bots, engine=engine, title=title, per_person=per_person,
    )
    with open_session(repo_path, model_overrides(model, adapter), use_cache=not no_cache,
                      progress=terminal_progress()) as session:
        fmt = "template" if template else choose_format(fmt, output, session.settings.report.format)
        detail = detail or session.settings.report.detail
        result = build(session, request)
    if fmt == "term" and not output:
        from rich.console import Console

        from narrator.report.terminal import render_terminal

        render_terminal(result, Console(), detail)
        return
    from narrator.report.render import render_chunks

    emit(render_chunks(result, "md" if fmt == "template" else fmt, Path(template) if template else None, detail),
         output)
