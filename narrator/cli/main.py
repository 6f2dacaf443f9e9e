"""The ``narrate`` group and its ONE error boundary; every verb lives in its own module of this package.

Errors raised on purpose (``NarratorError``) become one line on stderr and their exit code (2 for usage
errors); anything unexpected becomes one line too, with the traceback only under ``-v``; a closed stdout pipe
ends quietly (exit 141); Ctrl-C exits 130.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Sequence

import click

from narrator import __version__
from narrator.allocator import tune_allocator
from narrator.cli.commit import commit_command
from narrator.cli.common import verbose_option
from narrator.cli.config import config_group
from narrator.cli.digest import digest_command
from narrator.cli.engines import engines_command
from narrator.cli.explain import explain_command
from narrator.cli.hook import hook_group
from narrator.cli.outbox import outbox_group
from narrator.cli.report import report_command
from narrator.cli.schema import schema_command
from narrator.errors import NarratorError
from narrator.git.text import clean_text

_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


def _fail(message: str, code: int) -> None:
    # a message can quote untrusted text (a key of a repository's .narrator.toml, a path): cleaned like commit text
    click.echo(f"narrate: error: {clean_text(message)}", err=True)
    sys.exit(code)


def _quiet_broken_pipe() -> None:
    """stdout's reader went away (``narrate report | head``): exit without Python's BrokenPipeError noise."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(141)


class NarrateGroup(click.Group):
    """Turns every error into one clear line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NarratorError as exc:
            if ctx.meta.get("narrator.verbose"):
                logging.getLogger("narrator").exception("failed")
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("narrate: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except BrokenPipeError:
            _quiet_broken_pipe()
        except Exception as exc:  # never a traceback for users; -v shows it
            if ctx.meta.get("narrator.verbose"):
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with -v for details and please report it)", 1)


@click.group(cls=NarrateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="narrate")
@verbose_option
def cli() -> None:
    """Plain-English progress reports from a git history, for people who do not read code."""


for _command in (report_command, commit_command, config_group, digest_command, hook_group, engines_command,
                 explain_command, schema_command, outbox_group):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: click's own usage errors are also reduced to one line (exit 2)."""
    tune_allocator()  # big freed buffers go back to the system (narrator.allocator)
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
    except BrokenPipeError:
        _quiet_broken_pipe()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    sys.exit(code if isinstance(code, int) else 0)
