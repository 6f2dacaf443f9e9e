"""``narrate commit REV``: one commit explained, with its facts."""

from __future__ import annotations

import click

from narrator.cli.common import (choose_format, model_options, model_overrides, open_session, repo_option,
                                 stdout_console, verbose_option)


@click.command("commit")
@click.argument("rev", default="HEAD")
@repo_option()
@click.option("--engine", metavar="NAME", help="Narration engine (default from config: heuristic).")
@model_options
@click.option("--format", "fmt", type=click.Choice(("term", "md", "json")), help="Output format.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def commit_command(rev: str, repo_path: str, engine: str | None, model: str | None, adapter: str | None,
                   fmt: str | None, no_cache: bool) -> None:
    """Explain one commit in plain English, with its facts."""
    from narrator.app.commit import explain_commit
    from narrator.report.commit_text import print_commit, render_commit

    with open_session(repo_path, model_overrides(model, adapter, engine=engine), use_cache=not no_cache) as session:
        view = explain_commit(session, rev, engine)
    fmt = choose_format(fmt, None)
    if fmt == "term":
        print_commit(view, stdout_console())
    else:
        click.echo(render_commit(view, fmt))
