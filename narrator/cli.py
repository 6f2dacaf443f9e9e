"""The ``narrate`` command line: the only module that prints or exits.

Every command turns flags into plain requests, calls the library, and renders the result. Errors raised
on purpose (``NarratorError``) become one line on stderr and a non-zero exit (2 for usage errors); anything
unexpected becomes one line too, with the traceback only under ``-v``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import click

from narrator import __version__
from narrator.errors import NarratorError, UsageError

FORMATS = ("md", "html", "json", "term")
_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2
_EXTENSION_FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def _fail(message: str, code: int) -> None:
    click.echo(f"narrate: error: {message}", err=True)
    sys.exit(code)


class NarrateGroup(click.Group):
    """Turns every error into one clear line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NarratorError as exc:
            if _verbose(ctx):
                logging.getLogger("narrator").exception("failed")
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("narrate: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            sys.exit(141)
        except Exception as exc:  # never a traceback for users; -v shows it
            if _verbose(ctx):
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for details and please report it)", 1)


def _verbose(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("narrator.verbose"))


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value:
        ctx.meta["narrator.verbose"] = True
        logging.basicConfig(level=logging.DEBUG if value > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return value


verbose_option = click.option("-v", "--verbose", count=True, expose_value=False, is_eager=True,
                              callback=_set_verbose, help="Show progress details; -vv for debug logs and tracebacks.")


@click.group(cls=NarrateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="narrate")
@verbose_option
def cli() -> None:
    """Plain-English progress reports from a git history, for people who do not read code."""


# -- progress -------------------------------------------------------------------------------------------

class RichProgress:
    """A progress bar on stderr that appears only on a terminal and only for work longer than a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._task = None
        self._started = 0.0
        self._done = 0
        self._total: int | None = None
        self._description = ""

    def start(self, description: str, total: int | None) -> None:
        self._description, self._total, self._done = description, total, 0
        self._started = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self._done += count
        if not self.enabled:
            return
        if self._bar is None and time.monotonic() - self._started > 1.0:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self._description, total=self._total, completed=self._done)
        elif self._bar is not None:
            self._bar.update(self._task, completed=self._done)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# -- helpers shared by commands ------------------------------------------------------------------------

def load_settings(repo_path: str, overrides: dict[str, Any] | None = None):
    """Config for the repository at ``repo_path`` (its root is found the way git does)."""
    from narrator.config import load_config
    from narrator.git.walker import Repository

    repo = Repository.open(repo_path)
    config = load_config(None if repo.bare else repo.root)
    return repo, config.with_overrides(overrides or {})


def choose_format(fmt: str | None, output: str | None, config_default: str = "") -> str:
    if fmt:
        return fmt
    if output:
        return _EXTENSION_FORMATS.get(Path(output).suffix.lower(), config_default or "md")
    if config_default:
        return config_default
    return "term" if sys.stdout.isatty() else "md"


def emit(text: str | Iterable[str], output: str | None) -> None:
    """Write text (or pieces of it) to ``output`` atomically, or to stdout."""
    if output:
        from narrator.report.output import write_atomic

        write_atomic(Path(output), text)
        click.echo(f"narrate: wrote {output}", err=True)
        return
    last = ""
    for piece in [text] if isinstance(text, str) else text:
        if piece:
            click.echo(piece, nl=False)
            last = piece
    if not last.endswith("\n"):
        click.echo("")


def check_output_path(output: str | None) -> None:
    """Fail before any work when the output file cannot be written (no partial file is ever left)."""
    if output:
        from narrator.report.output import check_writable

        check_writable(output)


# -- report ---------------------------------------------------------------------------------------------

@cli.command()
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository to report on.")
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
@click.option("--title", metavar="TEXT", help="Report title.")
@click.option("--per-person", is_flag=True, default=None, help="Include a per-person breakdown.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def report(repo_path: str, since: str | None, until: str | None, branches: tuple[str, ...], all_branches: bool,
           authors: tuple[str, ...], paths: tuple[str, ...], excludes: tuple[str, ...], no_merges: bool,
           include_bots: bool | None, fmt: str | None, output: str | None, template: str | None,
           engine: str | None, title: str | None, per_person: bool | None, no_cache: bool) -> None:
    """Write a progress report for a window of the history (default: the last two weeks)."""
    from narrator.report.build import ReportRequest, build

    if branches and all_branches:
        raise UsageError("--branch and --all-branches cannot be used together")
    if template and fmt and fmt != "md":
        raise UsageError("--template replaces --format; give one or the other")
    if template and not Path(template).is_file():
        raise UsageError(f"--template {template} does not exist")
    check_output_path(output)
    repo, config = load_settings(repo_path)
    fmt = "template" if template else choose_format(fmt, output, config.get("report.format", ""))
    request = ReportRequest(
        repo=repo.root, revisions=branches, all_branches=all_branches, since=since, until=until, authors=authors,
        paths=paths, excludes=excludes, no_merges=no_merges, include_bots=include_bots, engine=engine,
        title=title, per_person=per_person,
    )
    progress = RichProgress(enabled=sys.stderr.isatty())
    with _open_cache(no_cache) as cache:
        result = build(request, config, cache, progress, repo=repo)
    _output_report(result, fmt, output, template)


def _output_report(result, fmt: str, output: str | None, template: str | None) -> None:
    if fmt == "term" and not output:
        from rich.console import Console

        from narrator.report.terminal import render_terminal

        render_terminal(result, Console())
        return
    from narrator.report.render import render_chunks

    emit(render_chunks(result, "md" if fmt == "template" else fmt, Path(template) if template else None), output)


class _NullCache:
    def __enter__(self):
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _open_cache(disabled: bool):
    if disabled:
        return _NullCache()
    from narrator.cache import Cache

    return Cache()


# -- commit ---------------------------------------------------------------------------------------------

@cli.command()
@click.argument("rev", default="HEAD")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@click.option("--engine", metavar="NAME", help="Narration engine (default from config: heuristic).")
@click.option("--format", "fmt", type=click.Choice(("term", "md", "json")), help="Output format.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@verbose_option
def commit(rev: str, repo_path: str, engine: str | None, fmt: str | None, no_cache: bool) -> None:
    """Explain one commit in plain English, with its facts."""
    from narrator.commit_view import explain_commit, render_commit

    repo, config = load_settings(repo_path)
    with _open_cache(no_cache) as cache:
        view = explain_commit(repo, rev, config, cache, engine)
    fmt = choose_format(fmt, None)
    if fmt == "term":
        from rich.console import Console

        from narrator.commit_view import print_commit

        print_commit(view, Console())
    else:
        click.echo(render_commit(view, fmt))


# -- config ---------------------------------------------------------------------------------------------

@cli.group()
def config() -> None:
    """Inspect narrator's configuration."""


@config.command("show")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository whose "
              ".narrator.toml is read (outside a repository only the user file and environment apply).")
@verbose_option
def config_show(repo_path: str) -> None:
    """Print every setting with its value and where it came from."""
    import json

    from narrator.config import load_config, user_config_path
    from narrator.errors import RepositoryError
    from narrator.git.walker import Repository

    try:
        repo = Repository.open(repo_path)
        root = None if repo.bare else repo.root
    except RepositoryError:
        root = None
    settings = load_config(root)
    click.echo(f"# user config file: {user_config_path()}")
    if root:
        click.echo(f"# repository config file: {Path(root) / '.narrator.toml'}")
    for item in settings.items():
        click.echo(f"{item.key} = {json.dumps(item.value, ensure_ascii=False)}    # {item.source}")


def _register_optional_commands() -> None:
    """Commands that live in their own modules (hooks, digests, model tools) are added when present."""
    import importlib

    for module_name, names in (
        ("narrator.cli_model", ("engines", "explain")),
        ("narrator.cli_hooks", ("hook", "digest")),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        for name in names:
            command = getattr(module, name, None) or getattr(module, f"{name}_command", None)
            if isinstance(command, click.Command):
                cli.add_command(command, name)


_register_optional_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click's own usage errors are also reduced to one line (exit 2)."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="narrate", standalone_mode=False)
    except _NO_ARGS_HELP as exc:  # `narrate hook` alone shows that group's help
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(2)
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort:
        click.echo("narrate: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("narrate: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
