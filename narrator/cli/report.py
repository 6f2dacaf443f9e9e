"""``narrate report``: flags -> a ReportRequest -> the report use case -> one rendered output (+ deliveries).

One ``--repo`` (or none: the current directory) gives one repository's report; several ``--repo`` or a
``--workspace`` give a team report (``narrator.app.team``). ``-o``'s extension chooses the format (.md, .html,
.json, .pdf) and an unknown one is refused before any work. With ``--to`` the outbox is flushed first, the
report is written, then delivered; exit 3 when a delivery is waiting in the outbox, 4 when a team report is
partial (a repository could not be read).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from narrator.cli.common import (EXIT_DELIVERY, EXIT_PARTIAL, check_output_format, check_output_path, check_pdf,
                                 choose_format, echo_note, emit, emit_pdf, model_options, model_overrides,
                                 open_session, stdout_console, terminal_progress, verbose_option)
from narrator.cli.deliver import RenderedFiles, delivery_options, flush_first, print_results
from narrator.errors import UsageError

FORMATS = ("md", "html", "json", "term", "pdf")


@click.command("report")
@click.option("--repo", "repo_paths", multiple=True, metavar="PATH", help="Repository to report on (default: "
              "the current one). Repeatable: several repositories in one team report.")
@click.option("--workspace", metavar="NAME", help="Report on the repositories of [workspace.NAME] in your "
              "config, from anywhere.")
@click.option("--since", metavar="WHEN", help="Start of the window: 2w, 10d, 36h, yesterday, 'last monday', "
              "2026-11-01 ... (default: 2w).")
@click.option("--until", metavar="WHEN", help="End of the window, inclusive (default: now).")
@click.option("--compare-with", "compare_with", metavar="PERIOD", help="Compare with: previous (default: the "
              "period of the same length before), previous-year, 2026-Q1, 2026-03, 2025, 2026-W05, "
              "2026-01-01..2026-02-15, or none.")
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
              "md otherwise, or from the --output extension: .md, .html, .json, .pdf).")
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
@delivery_options
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def report_command(repo_paths: tuple[str, ...], workspace: str | None, since: str | None, until: str | None,
                   compare_with: str | None, branches: tuple[str, ...], all_branches: bool, authors: tuple[str, ...],
                   paths: tuple[str, ...], excludes: tuple[str, ...], no_merges: bool, include_bots: bool | None,
                   fmt: str | None, output: str | None, template: str | None, engine: str | None,
                   model: str | None, adapter: str | None, title: str | None, detail: str | None,
                   per_person: bool | None, destinations: tuple[str, ...], resend: bool, no_cache: bool) -> None:
    """Write a progress report for a window of the history (default: the last two weeks)."""
    from narrator.app.report import ReportRequest
    from narrator.git.filters import CommitFilter
    from narrator.timespec import parse_period

    if branches and all_branches:
        raise UsageError("--branch and --all-branches cannot be used together")
    if template and fmt and fmt != "md":
        raise UsageError("--template replaces --format; give one or the other")
    if template and not Path(template).is_file():
        raise UsageError(f"--template {template} does not exist")
    check_output_path(output)  # where it goes first (the cache directory, a missing folder), then its format
    check_output_format(fmt, output, template)
    if fmt == "pdf" and not output and sys.stdout.isatty():
        raise UsageError("a PDF is not for the terminal; give -o report.pdf (or redirect stdout to a file)")
    parse_period(compare_with)  # nonsense fails here, before any work
    request = ReportRequest(
        since=since, until=until, revisions=branches, all_branches=all_branches,
        filter=CommitFilter(authors=authors, paths=paths, excludes=excludes, no_merges=no_merges),
        include_bots=include_bots, engine=engine, title=title, per_person=per_person, compare_with=compare_with,
    )
    overrides = model_overrides(model, adapter, engine=engine)
    if workspace or len(repo_paths) > 1:
        if template:
            raise UsageError("--template renders one repository's report; a team report uses the built-in "
                             "team templates (or --format json for your own tools)")
        _team_report(repo_paths, workspace, request, overrides, fmt, output, detail, destinations, resend,
                     no_cache)
        return
    with open_session(repo_paths[0] if repo_paths else ".", overrides, use_cache=not no_cache,
                      progress=terminal_progress()) as session:
        settings = session.settings
        fmt = "template" if template else choose_format(fmt, output, settings.report.format)
        if fmt == "pdf":
            check_pdf()
        plan = _plan(destinations, settings, resend)
        waiting_ok = flush_first(plan) if plan else True
        detail = detail or settings.report.detail
        from narrator.app.report import build

        result = build(session, request)
    _write_single(result, fmt, output, template, detail)
    if plan is None:
        return
    from narrator.report.render import render

    sent_ok = _send(plan, result.to_context(), render(result, "html", detail=detail),
                    render(result, "md", detail=detail), f"{result.repository}-{_dates(result.since, result.until)}",
                    output, fmt)
    if not (sent_ok and waiting_ok):
        click.get_current_context().exit(EXIT_DELIVERY)


def _send(plan: Any, context: dict[str, Any], html: str, text: str, stem: str, output: str | None,
          fmt: str) -> bool:
    """Deliver a rendered report (HTML and Markdown, the files named ``stem``; a PDF written to ``--output`` goes
    as an attachment) to the planned destinations; prints a line per destination, True when all took it."""
    from narrator.app.delivery import report_parcel, send

    rendered = RenderedFiles()
    try:
        files = rendered.files(output, stem, [("html", lambda: html), ("md", lambda: text)])
        parcel = report_parcel(context, html=html, text=text, files=files,
                               attachments=files if fmt == "pdf" and output else (), link=plan.link)
        return print_results(send(plan, parcel))
    finally:
        rendered.cleanup()


def _plan(destinations: tuple[str, ...], settings: Any, resend: bool) -> Any:
    if not destinations:  # no --to: the delivery package (mail, TLS, HTTP) is not even imported
        return None
    from narrator.app.delivery import plan_delivery

    return plan_delivery(destinations, settings, force=resend)


def _dates(since: Any, until: Any) -> str:
    start = since.date().isoformat() if since else "start"
    return f"{start}-to-{until.date().isoformat()}"


def _write_single(result: Any, fmt: str, output: str | None, template: str | None, detail: str) -> None:
    if fmt == "term" and not output:
        from narrator.report.terminal import render_terminal

        render_terminal(result, stdout_console(), detail)
        return
    if fmt == "pdf":
        from narrator.report.render import render

        emit_pdf(render(result, "html", detail=detail), output)
        return
    if fmt == "json" and not template:  # streamed JSON needs no template engine: Jinja2 is not imported
        from narrator.report.json_out import json_chunks

        emit(json_chunks(result), output)
        return
    from narrator.report.render import render_chunks

    emit(render_chunks(result, "md" if fmt == "template" else fmt, Path(template) if template else None, detail),
         output)


def _team_report(repo_paths: tuple[str, ...], workspace: str | None, request: Any, overrides: dict,
                 fmt: str | None, output: str | None, detail: str | None, destinations: tuple[str, ...],
                 resend: bool, no_cache: bool) -> None:
    from narrator.app.team import Team, TeamRequest, build_team, repos_from_paths, workspace_repos
    from narrator.config import load_settings
    from narrator.report.team import render_team

    settings = load_settings(None, overrides=overrides)
    for note in settings.notes:
        echo_note(note)
    specs = (workspace_repos(settings, workspace) if workspace else ()) + repos_from_paths(repo_paths)
    fmt = choose_format(fmt, output, settings.report.format)
    if fmt == "pdf":
        check_pdf()
    detail = detail or settings.report.detail
    plan = _plan(destinations, settings, resend)
    team_request = TeamRequest(repos=specs, report=request, workspace=workspace or "")
    with Team.open(specs, overrides, use_cache=not no_cache, progress=terminal_progress(),
                   settings=settings) as team:
        for name, note in team.notes:
            echo_note(f"{name}: {note}")
        waiting_ok = flush_first(plan) if plan else True
        result = build_team(team, team_request)
    for problem in result.problems:
        click.echo(f"narrate: warning: {problem.name} left out: {problem.reason}", err=True)
    html = render_team(result, "html", detail) if fmt in ("html", "pdf") or plan else ""
    if fmt == "pdf":
        emit_pdf(html, output)
    elif fmt == "term" and not output:
        from rich.markdown import Markdown

        stdout_console().print(Markdown(render_team(result, "md", detail)))
    else:
        emit(html if fmt == "html" else render_team(result, "md" if fmt == "term" else fmt, detail), output)
    sent_ok = plan is None or _send(plan, result.to_context(), html, render_team(result, "md", detail),
                                    f"{workspace or 'team'}-{_dates(result.since, result.until)}", output, fmt)
    if not (sent_ok and waiting_ok):
        click.get_current_context().exit(EXIT_DELIVERY)
    if result.partial:
        click.get_current_context().exit(EXIT_PARTIAL)
