"""``narrate digest``: weekly digests (Markdown and HTML) and a browsable index, written idempotently, and
delivered with ``--to``.

One ``--repo`` gives one repository's digests; several ``--repo`` or a ``--workspace`` give one digest per week
covering every repository (``narrator.app.team_digest``). Delivery rule: every FINISHED week the run was asked
for is delivered, once per destination (the delivery ledger remembers it, so rerunning sends nothing twice);
the week still in progress is delivered only when it is the only week asked for (``--weeks 1``, or
``--since``/``--until`` inside the current week), so a daily or weekly cron job sends each week once, when it
is complete. Exit 3 when a delivery waits in the outbox, 4 when a repository of a team could not be read.
"""

from __future__ import annotations

import re
from html import escape as html_escape
from pathlib import Path
from typing import Any, Sequence

import click

from narrator.cli.common import (EXIT_DELIVERY, EXIT_PARTIAL, echo_note, model_options, model_overrides,
                                 open_session, terminal_progress, verbose_option)
from narrator.cli.deliver import delivery_options, flush_first, print_results


@click.command("digest")
@click.option("--repo", "repo_paths", multiple=True, metavar="PATH", help="Repository (default: the current "
              "one). Repeatable: one digest per week covering every repository.")
@click.option("--workspace", metavar="NAME", help="Digest the repositories of [workspace.NAME] in your config.")
@click.option("--weeks", type=int, metavar="N", help="Write the last N weeks, the current one included "
              "(default: digest.weeks = 2, so last week is finalised).")
@click.option("--since", metavar="WHEN", help="Write every week from this one (2026-09-01, 8w, ...).")
@click.option("--until", metavar="WHEN", help="... up to the week holding this date (default: now).")
@click.option("--out", "out_dir", metavar="DIR", help="Output directory (default: digest.out_dir, relative to "
              "the current directory; never inside the repository unless given here).")
@click.option("--format", "formats", metavar="LIST", help="Comma-separated formats: md, html (default: "
              "digest.formats).")
@click.option("--engine", metavar="NAME", help="Narration engine (default from config).")
@model_options
@click.option("--detail", type=click.Choice(("short", "full")), help="short (default) or full (every commit).")
@delivery_options
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def digest_command(repo_paths: tuple[str, ...], workspace: str | None, weeks: int | None, since: str | None,
                   until: str | None, out_dir: str | None, formats: str | None, engine: str | None,
                   model: str | None, adapter: str | None, detail: str | None, destinations: tuple[str, ...],
                   resend: bool, no_cache: bool) -> None:
    """Write weekly digests (Markdown and HTML) and an index, idempotently; deliver finished weeks with --to."""
    from narrator.app.delivery import plan_delivery
    from narrator.app.digest import DigestRequest, write_digests

    request = DigestRequest(
        weeks=weeks, since=since, until=until, out_dir=out_dir, engine=engine,
        formats=tuple(f for f in (formats or "").split(",") if f.strip()), detail=detail,
    )
    overrides = model_overrides(model, adapter, engine=engine)
    partial = False
    if workspace or len(repo_paths) > 1:
        from narrator.app.team import Team, repos_from_paths, workspace_repos
        from narrator.app.team_digest import TeamDigestRequest, write_team_digests
        from narrator.config import load_settings

        settings = load_settings(None, overrides=overrides)
        for note in settings.notes:
            echo_note(note)
        specs = (workspace_repos(settings, workspace) if workspace else ()) + repos_from_paths(repo_paths)
        plan = plan_delivery(destinations, settings, force=resend)
        with Team.open(specs, overrides, use_cache=not no_cache, progress=terminal_progress(),
                       settings=settings) as team:
            for name, note in team.notes:
                echo_note(f"{name}: {note}")
            waiting_ok = flush_first(plan) if plan else True
            result, _ = write_team_digests(team, TeamDigestRequest(request, workspace or ""))
            problems = list(team.problems) + [p for w in result.weeks if w.report is not None
                                              for p in w.report.problems if p not in team.problems]
        seen = set()
        for problem in problems:
            if problem.name not in seen:
                seen.add(problem.name)
                click.echo(f"narrate: warning: {problem.name} left out: {problem.reason}", err=True)
        partial = bool(seen)
    else:
        with open_session(repo_paths[0] if repo_paths else ".", overrides, use_cache=not no_cache,
                          progress=terminal_progress()) as session:
            plan = plan_delivery(destinations, session.settings, force=resend)
            waiting_ok = flush_first(plan) if plan else True
            result = write_digests(session, request)
            settings = session.settings
    _print_weeks(result)
    sent_ok = True
    if plan is not None:
        sent_ok = _deliver_weeks(plan, result, settings, request, detail)
    if not (sent_ok and waiting_ok):
        click.get_current_context().exit(EXIT_DELIVERY)
    if partial:
        click.get_current_context().exit(EXIT_PARTIAL)


def _print_weeks(result: Any) -> None:
    for week in result.weeks:
        tags = [t for t, on in (("in progress", week.in_progress), ("quiet week", week.quiet)) if on]
        extra = f" ({', '.join(tags)})" if tags else ""
        verb = "wrote    " if week.action == "written" else "unchanged"
        click.echo(f"narrate: {verb} {week.name}{extra}: {week.commits} commit{'s' if week.commits != 1 else ''}")
    if result.skipped_before_history:
        click.echo(f"narrate: skipped {result.skipped_before_history} week(s) before the first commit")
    if result.future_commits:
        click.echo(f"narrate: note: {result.future_commits} commit(s) are dated in the future (wrong clock?); "
                   "they are counted in the week their date falls in")
    index = next((f for f in result.index_files if f.endswith(".html")), result.index_files[0])
    click.echo(f"narrate: index {'updated' if result.index_written else 'unchanged'}: {index}")


def weeks_to_deliver(weeks: Sequence[Any]) -> list[Any]:
    """Finished weeks that were asked for; the week in progress only when it is the only one asked for."""
    asked = [w for w in weeks if w.requested]
    if len(asked) == 1 and asked[0].in_progress:
        return asked
    return [w for w in asked if not w.in_progress]


def _deliver_weeks(plan: Any, result: Any, settings: Any, request: Any, detail: str | None) -> bool:
    from narrator.app.delivery import report_parcel, send

    chosen = weeks_to_deliver(result.weeks)
    held = [w.name for w in result.weeks if w.requested and w not in chosen]
    if held:
        echo_note(f"{', '.join(held)} is still in progress: delivered when it is over (or run with --weeks 1 "
                  "to send it now)")
    detail = detail or settings.report.detail
    ok = True
    for week in chosen:
        report = week.report
        files = [Path(f) for f in week.files]
        link = f"{plan.link.rstrip('/')}/{week.name}.html" if plan.link else ""
        index = f"{plan.link.rstrip('/')}/index.html" if plan.link else ""
        html = for_mail(_read(files, ".html") or _render(report, "html", detail), "html", index)
        text = for_mail(_read(files, ".md") or _render(report, "md", detail), "md", index)
        context = report.to_context()
        parcel = report_parcel(context, html=html, text=text, files=files, kind="digest", link=link,
                               period_key=week.name)
        ok = print_results(send(plan, parcel), week.name) and ok
    return ok


_HTML_NAV = re.compile(r'<nav class="digest-nav[^"]*"[^>]*>.*?</nav>\s*', re.S)
_MD_NAV = re.compile(r"^\[All digests\]\(index\.md\).*\n+", re.M)


def for_mail(text: str, fmt: str, index: str = "") -> str:
    """A digest page as a message: the links to the index and the other weeks (relative file names, which
    lead nowhere from a mail) are taken out; with ``delivery.link`` set, one link to the index takes their
    place. (Commit text cannot forge these lines: it is escaped in both formats.)"""
    if fmt == "html":
        text = _HTML_NAV.sub("", text)
        if index:
            text = text.replace("</main>", f'<p class="note"><a href="{html_escape(index)}">All digests</a></p>\n'
                                           "</main>", 1)
        return text
    text = _MD_NAV.sub("", text).rstrip() + "\n"
    return text + (f"\nAll digests: {index}\n" if index else "")


def _read(files: Sequence[Path], suffix: str) -> str:
    for path in files:
        if path.suffix == suffix and path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


def _render(report: Any, fmt: str, detail: str) -> str:
    from narrator.report.model import Report

    if isinstance(report, Report):
        from narrator.report.render import render

        return render(report, fmt, detail=detail)
    from narrator.report.team import render_team

    return render_team(report, fmt, detail)
