"""``narrate schema``: print the JSON Schema of ``narrate report --format json`` (the file shipped in the package)."""

from __future__ import annotations

import click

from narrator.cli.common import verbose_option


@click.command("schema")
@verbose_option
def schema_command() -> None:
    """Print the JSON Schema of the JSON report (one repository's or a team's); see docs/json-schema.md."""
    from narrator.errors import NarratorError
    from narrator.report.schema import SCHEMA_FILE, shipped_text

    try:
        text = shipped_text()
    except OSError as exc:
        raise NarratorError(f"the shipped schema {SCHEMA_FILE} cannot be read ({exc.strerror or exc}); "
                            "reinstall narrator") from None
    click.echo(text, nl=False)
