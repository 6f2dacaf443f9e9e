"""``narrate explain PATH[:SYMBOL]``: a function, class or file in plain English."""

from __future__ import annotations

import json

import click

from narrator.cli.common import model_options, model_overrides, open_session, repo_option, verbose_option


@click.command("explain", help="Explain a function, class or file in plain English: PATH[:SYMBOL], e.g. "
                               "src/app.py:Cart.total.")
@click.argument("target", metavar="PATH[:SYMBOL]")
@click.option("--rev", default="HEAD", show_default=True, help="Revision to read the code at.")
@repo_option()
@click.option("--engine", "engine_name", default=None, help="Engine (default: the configured one).")
@model_options
@click.option("--gguf-file", default=None, help="hf engine: GGUF file (path or name inside --model).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@verbose_option
def explain_command(target: str, rev: str, repo_path: str, engine_name: str | None, model: str | None,
                    adapter: str | None, gguf_file: str | None, fmt: str) -> None:
    from narrator.app.explain import explain_target
    from narrator.git.text import clean_text, one_line

    with open_session(repo_path, model_overrides(model, adapter, gguf_file, engine_name), use_cache=False) as session:
        result = explain_target(session, target, rev, engine_name)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    unit = result.unit
    where = f"{unit.path}:{unit.name}" if unit.name else unit.path
    click.echo(one_line(f"{where} (lines {unit.start_line}-{unit.end_line} at {rev})"))
    click.echo(clean_text(result.text))
    if result.fallback_reason:
        click.echo(one_line(f"(written from the code's own description: the {result.engine} answer was rejected: "
                            f"{result.fallback_reason})"))
