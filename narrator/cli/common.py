"""What every command shares: the -v option, the --repo option, opening a session, choosing a format (from
--format or the -o extension, checked before any work), writing output atomically (text or PDF bytes), the
exit codes beyond 0/1/2, and the progress bar. Commands are the only code that prints."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import click

from narrator.errors import UsageError

_EXTENSION_FORMATS = {".md": "md", ".markdown": "md", ".txt": "md", ".html": "html", ".htm": "html",
                      ".json": "json", ".pdf": "pdf"}

# Exit codes beyond click's (0 done, 1 failed, 2 usage): the output was written, but ...
EXIT_DELIVERY = 3  # ... some delivery is waiting in the outbox (or failed); the next run retries it
EXIT_PARTIAL = 4  # ... some repository of a team report could not be read (it is named in the report)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value:
        root = ctx.find_root()
        root.meta["narrator.verbose"] = True
        logging.basicConfig(level=logging.DEBUG if value > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return value


verbose_option = click.option("-v", "--verbose", count=True, expose_value=False, is_eager=True,
                              callback=_set_verbose, help="Show progress details; -vv for debug logs and tracebacks.")


def repo_option(help: str = "Repository.") -> Any:
    return click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help=help)


def model_options(func: Any) -> Any:
    """``--model`` and ``--adapter`` for the hf engine (commands that narrate)."""
    func = click.option("--adapter", default=None, metavar="DIR|none",
                        help="hf engine: LoRA adapter directory ('none' for the bare model).")(func)
    return click.option("--model", default=None, metavar="ID|DIR|FILE.gguf",
                        help="hf engine: model id (from the local cache), directory or .gguf file.")(func)


def model_overrides(model: str | None, adapter: str | None, gguf_file: str | None = None,
                    engine: str | None = None) -> dict[str, Any]:
    """Settings from ``--model``/``--adapter`` (and ``--gguf-file``): they choose the hf engine when no
    ``--engine`` is given, and a ``--model`` replaces a configured GGUF file (a .gguf path goes in ``--model``)."""
    overrides: dict[str, Any] = {"engines.hf.model": model, "engines.hf.adapter": adapter,
                                 "engines.hf.gguf_file": gguf_file}
    if model is not None and gguf_file is None:
        overrides["engines.hf.gguf_file"] = ""
    if model is not None or adapter is not None or gguf_file is not None:
        if engine is not None and engine != "hf":
            raise UsageError(f"--model, --adapter and --gguf-file are for the hf engine, not --engine {engine}")
        overrides["engine"] = "hf"
    return overrides


def echo_note(text: str) -> None:
    from narrator.git.text import clean_text

    click.echo(f"narrate: note: {clean_text(text)}", err=True)  # notes may quote a repository's config


def open_session(repo_path: str, overrides: Mapping[str, Any] | None = None, *, use_cache: bool = True,
                 progress: Any = None, outside_repo_ok: bool = False):
    """The session for ``--repo``; settings notes (a repository trying to choose the engine) are printed once.

    With ``outside_repo_ok``, a path that is not a repository gives ``(None, settings)`` without a repository's
    config (for `narrate config show` and `narrate engines`).
    """
    from narrator.app.session import Session

    if outside_repo_ok:
        from narrator.config import load_settings
        from narrator.errors import RepositoryError
        from narrator.git.walker import Repository

        try:
            repo = Repository.open(repo_path)
        except RepositoryError:
            settings = load_settings(None, overrides=overrides)
            for note in settings.notes:
                echo_note(note)
            return None, settings
        settings = load_settings(None if repo.bare else repo.root, overrides=overrides)
        for note in settings.notes:
            echo_note(note)
        return repo, settings
    session = Session.open(repo_path, overrides, use_cache=use_cache, progress=progress)
    for note in session.settings.notes:
        echo_note(note)
    return session


def choose_format(fmt: str | None, output: str | None, default: str = "") -> str:
    if fmt:
        return fmt
    if output:
        return _EXTENSION_FORMATS.get(Path(output).suffix.lower(), default or "md")
    if default:
        return default
    return "term" if sys.stdout.isatty() else "md"


def check_output_format(fmt: str | None, output: str | None, template: str | None = None) -> None:
    """Before any work: an ``-o`` extension narrator cannot write, or one that contradicts ``--format``, is a
    usage error (a .pdf full of Markdown helps nobody)."""
    if not output or template:
        return
    suffix = Path(output).suffix.lower()
    if not suffix:
        return
    by_extension = _EXTENSION_FORMATS.get(suffix)
    if by_extension is None:
        if fmt:
            return  # --format decides; the name is the user's business (notes.txt, report.out)
        known = ", ".join(sorted({".md", ".html", ".json", ".pdf"}))
        raise UsageError(f"cannot write -o {output}: narrator writes {known} (or give --format md|html|json|pdf "
                         "to choose the format whatever the name)")
    if fmt and fmt != "term" and by_extension != fmt and not (suffix == ".txt" and fmt in ("md", "term")):
        raise UsageError(f"--format {fmt} does not match -o {output} (a {by_extension} name); change one of them")


def check_pdf() -> None:
    """Before any work: PDF output needs WeasyPrint and Pango (one line naming what to install)."""
    from narrator.report import pdf

    if not pdf.pdf_available():
        pdf.html_to_pdf("")  # raises the PdfError that names the missing piece


def emit_pdf(html: str, output: str | None) -> None:
    """The HTML page as a PDF file (atomically), or as bytes on stdout when it is not a terminal."""
    from narrator.report.pdf import html_to_pdf, write_pdf

    if output:
        write_pdf(html, output)
        click.echo(f"narrate: wrote {output}", err=True)
        return
    if sys.stdout.isatty():
        raise UsageError("a PDF is not for the terminal; give -o report.pdf (or redirect stdout to a file)")
    data = html_to_pdf(html)
    sys.stdout.flush()
    stream = getattr(sys.stdout, "buffer", sys.stdout)
    stream.write(data)
    stream.flush()


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


def stdout_console() -> Any:
    """A rich console on stdout whose closed pipe ends like every other output (quietly, exit 141): rich's own
    handling exits 1, which reads as a failure to a shell script."""
    from rich.console import Console

    class _StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _StdoutConsole()


def check_output_path(output: str | None) -> None:
    """Fail before any work when the output file cannot be written (no partial file is ever left)."""
    if output:
        from narrator.report.output import check_writable

        check_writable(output)


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


def terminal_progress() -> RichProgress:
    return RichProgress(enabled=sys.stderr.isatty())
