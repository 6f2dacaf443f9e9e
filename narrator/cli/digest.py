"""``narrate digest``: weekly digests (Markdown and HTML) and a browsable index, written idempotently."""

from __future__ import annotations

import click

from narrator.cli.common import model_options, model_overrides, open_session, terminal_progress, verbose_option


@click.command("digest")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
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
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def digest_command(repo_path: str, weeks: int | None, since: str | None, until: str | None, out_dir: str | None,
                   formats: str | None, engine: str | None, model: str | None, adapter: str | None,
                   detail: str | None, no_cache: bool) -> None:
    """Write weekly digests (Markdown and HTML) and an index, idempotently."""
    from narrator.app.digest import DigestRequest, write_digests

    request = DigestRequest(
        weeks=weeks, since=since, until=until, out_dir=out_dir, engine=engine,
        formats=tuple(f for f in (formats or "").split(",") if f.strip()), detail=detail,
    )
    with open_session(repo_path, model_overrides(model, adapter), use_cache=not no_cache,
                      progress=terminal_progress()) as session:
        result = write_digests(session, request)
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
