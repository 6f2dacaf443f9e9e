"""The ``narrate hook`` and ``narrate digest`` commands (registered by ``narrator.cli`` when present).

Commands only turn flags into calls of ``narrator.hooks`` / ``narrator.digest`` and print their results;
every failure is a ``NarratorError`` that the CLI turns into one line on stderr.
"""

from __future__ import annotations

import logging
import sys

import click

from narrator.cli import verbose_option


@click.group()
def hook() -> None:
    """Narrate every commit the moment it lands (a git post-commit hook)."""


@hook.command("install")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@click.option("--force", is_flag=True, help="Install even when core.hooksPath points outside the repository "
              "(the hook then runs for every repository using that directory).")
@verbose_option
def hook_install(repo_path: str, force: bool) -> None:
    """Install the post-commit hook (an existing hook is kept and still runs first)."""
    from narrator.config import load_config
    from narrator.hooks import install, locate

    location = locate(repo_path)
    config = load_config(location.work_tree)
    result = install(repo_path, force=force, nice=int(config.get("hook.nice", 10)))
    verb = {"installed": "installed", "updated": "updated", "unchanged": "already installed:"}[result.action]
    click.echo(f"narrate: {verb} {result.location.hook}")
    if result.chained and result.action == "installed":
        click.echo(f"narrate: your existing hook ({result.chained}) was moved to {result.location.chained.name} "
                   "and still runs first, with its exit status kept")
    elif result.chained:
        click.echo(f"narrate: it runs your previous hook first ({result.location.chained.name}: {result.chained})")
    if not result.location.inside_repository:
        click.echo(f"narrate: note: {result.location.hooks_dir} is outside the repository; the hook runs for "
                   "every repository that uses it")
    if not config.get("hook.enabled", True):
        click.echo("narrate: note: hook.enabled is false for this repository, so the hook does nothing")


@hook.command("uninstall")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@verbose_option
def hook_uninstall(repo_path: str) -> None:
    """Remove the hook and put back the hook it replaced, exactly as it was."""
    from narrator.hooks import uninstall

    result = uninstall(repo_path)
    if result.action == "not-installed":
        click.echo(f"narrate: no narrator hook in {result.location.hooks_dir}; nothing to remove")
        return
    click.echo(f"narrate: removed the narrator hook from {result.location.hooks_dir}")
    if result.restored:
        click.echo(f"narrate: restored your previous hook ({result.restored})")


@hook.command("status")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@verbose_option
def hook_status(repo_path: str) -> None:
    """Show whether the hook is installed, where, and what it chains to."""
    from narrator.config import load_config
    from narrator.hooks import status

    st = status(repo_path)
    loc = st.location
    config = load_config(loc.work_tree)
    state = ("installed" if st.current else "installed, but out of date: run `narrate hook install`") \
        if st.installed else "not installed"
    click.echo(f"hook:        {state}")
    click.echo(f"hooks dir:   {loc.hooks_dir}" + ("" if loc.inside_repository else "  (outside the repository)"))
    if loc.hooks_path_config:
        click.echo(f"hooksPath:   {loc.hooks_path_config}  ({loc.hooks_path_origin})")
    if st.foreign:
        click.echo(f"post-commit: another hook is installed ({st.foreign}); install chains to it")
    if st.chained:
        click.echo(f"chained:     {loc.chained.name}: {st.chained}")
    click.echo(f"enabled:     {str(bool(config.get('hook.enabled', True))).lower()}  (hook.enabled)")
    click.echo(f"runs:        {st.command} hook run  (timeout {config.get('hook.timeout_s')} s, "
               f"nice {config.get('hook.nice')})")
    click.echo(f"log:         {st.log_file}")


@hook.command("run", hidden=True)
@click.option("--repo", "repo_path", default=".", metavar="PATH")
@click.option("--detach", is_flag=True, help="Start the job in the background and return at once.")
def hook_run(repo_path: str, detach: bool) -> None:
    """Narrate HEAD into the cache (what the hook starts in the background)."""
    from narrator.hooks import run_job, spawn_detached

    if detach:
        spawn_detached(repo_path)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    sys.exit(run_job(repo_path))


@click.command("digest")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@click.option("--weekly", is_flag=True, help="Digest by ISO week (the default; kept for scripts that say so).")
@click.option("--weeks", type=int, metavar="N", help="Write the last N weeks, the current one included "
              "(default: digest.weeks = 2, so last week is finalised).")
@click.option("--since", metavar="WHEN", help="Write every week from this one (2026-09-01, 8w, ...).")
@click.option("--until", metavar="WHEN", help="... up to the week holding this date (default: now).")
@click.option("--out", "out_dir", metavar="DIR", help="Output directory (default: digest.out_dir, relative to "
              "the current directory; never inside the repository unless given here).")
@click.option("--format", "formats", metavar="LIST", help="Comma-separated formats: md, html (default: "
              "digest.formats).")
@click.option("--engine", metavar="NAME", help="Narration engine (default from config).")
@verbose_option
def digest(repo_path: str, weekly: bool, weeks: int | None, since: str | None, until: str | None,
           out_dir: str | None, formats: str | None, engine: str | None) -> None:
    """Write weekly digests (Markdown and HTML) and an index, idempotently."""
    from narrator.cache import Cache
    from narrator.cli import RichProgress, load_settings
    from narrator.digest import DigestRequest, write_digests

    repo, config = load_settings(repo_path)
    request = DigestRequest(
        repo=repo.root, weeks=weeks, since=since, until=until, out_dir=out_dir, engine=engine,
        formats=tuple(f for f in (formats or "").split(",") if f.strip()),
    )
    progress = RichProgress(enabled=sys.stderr.isatty())
    with Cache() as cache:
        result = write_digests(request, config, cache, progress)
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
