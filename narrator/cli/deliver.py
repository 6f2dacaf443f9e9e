"""``--to`` for ``report`` and ``digest``: the shared options, one printed line per delivery, and the rendered
files a delivery needs when the report itself went to stdout.

Order of a run that delivers: the ``--to`` values and the settings they need are checked first (exit 2, no
work done), the outbox left by earlier runs is flushed, the report is built and written, then delivered.
Every delivery result is one line on stderr; a delivery that is waiting in the outbox or failed makes the
run exit 3 (``EXIT_DELIVERY``) although the report itself was written.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import click

from narrator.cli.common import echo_note

# Every delivery result is printed as one line below; the delivery package's own warnings about the same
# failures would repeat it (Python prints unhandled warnings on stderr). `-v` still shows them.
logging.getLogger("narrator.delivery").addHandler(logging.NullHandler())


def delivery_options(func: Any) -> Any:
    func = click.option("--resend", is_flag=True, help="Deliver even what the delivery ledger says already "
                        "arrived at that destination.")(func)
    return click.option("--to", "destinations", multiple=True, metavar="DEST",
                        help="Also deliver it: mailto:a@example.com, https://hooks.slack.com/... (a JSON "
                        "webhook), file:DIR. Repeatable. Mail needs [delivery.smtp] in your config.")(func)


def print_results(results: Iterable[Any], what: str = "") -> bool:
    """One line per delivery result on stderr (``what``: e.g. the digest week it is about); True when every one
    arrived (or had arrived before)."""
    from narrator.app.delivery import config_keys

    ok = True
    prefix = f"{what}: " if what else ""
    for result in results:
        click.echo(f"narrate: {prefix}{config_keys(result.line())}", err=True)
        ok = ok and result.ok
    return ok


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "report"


class RenderedFiles:
    """The files a delivery carries: the written output, or (stdout runs) the page rendered into a temporary
    directory under a dated name, removed after the delivery (the outbox keeps its own copy)."""

    def __init__(self) -> None:
        self._tmp: Path | None = None

    def files(self, output: str | None, name: str, renders: Sequence[tuple[str, Callable[[], str]]]) -> list[Path]:
        if output:
            return [Path(output)]
        self._tmp = Path(tempfile.mkdtemp(prefix="narrator-deliver-"))
        paths = []
        for ext, render in renders:
            path = self._tmp / f"{slug(name)}.{ext}"
            path.write_text(render(), encoding="utf-8")
            paths.append(path)
        return paths

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def flush_first(plan: Any) -> bool:
    """Retry what earlier runs left in the outbox; print one line per entry. True when nothing still waits."""
    from narrator.app.delivery import flush

    results = flush(plan)
    if results:
        echo_note(f"retrying {len(results)} waiting deliver{'y' if len(results) == 1 else 'ies'} from the outbox")
    return print_results(results, "outbox")
