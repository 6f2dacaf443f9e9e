"""``narrate hook install|uninstall|status|run``: the post-commit hook that narrates each commit as it lands."""

from __future__ import annotations

import logging
import sys

import click

from narrator.cli.common import verbose_option


@click.group("hook")
def hook_group() -> None:
    """Narrate every commit the moment it lands (a git post-commit hook)."""


@hook_group.command("install")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@click.option("--force", is_flag=True, help="Install even when core.hooksPath points outside the repository "
              "(the hook then runs for every repository using that directory).")
@verbose_option
def hook_install(repo_path: str, force: bool) -> None:
    """Install the post-commit hook (an existing hook is kept and still runs first)."""
    from narrator.config import load_settings
    from narrator.hooks import install, locate

    location = locate(repo_path)
    settings = load_settings(location.work_tree)
    result = install(repo_path, force=force, nice=settings.hook.nice)
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
    if not settings.hook.enabled:
        click.echo("narrate: note: hook.enabled is false for this repository, so the hook does nothing")


@hook_group.command("uninstall")
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


@hook_group.command("status")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@verbose_option
def hook_status(repo_path: str) -> None:
    """Show whether the hook is installed, where, and what it chains to."""
    from narrator.config import load_settings
    from narrator.hooks import status

    st = status(repo_path)
    loc = st.location
    settings = load_settings(loc.work_tree)
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
    click.echo(f"enabled:     {str(settings.hook.enabled).lower()}  (hook.enabled)")
    click.echo(f"runs:        {st.command} hook run  (timeout {settings.hook.timeout_s} s, "
               f"nice {settings.hook.nice})")
    click.echo(f"log:         {st.log_file}")


@hook_group.command("run", hidden=True)
@click.option("--repo", "repo_path", default=".", metavar="PATH")
@click.option("--detach", is_flag=True, help="Start the job in the background and return at once.")
def hook_run(repo_path: str, detach: bool) -> None:
    """Narrate HEAD into the cache (what the hook starts in the background)."""
    from narrator.app.hook_job import run_job, spawn_detached

    if detach:
        spawn_detached(repo_path)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    sys.exit(run_job(repo_path))
