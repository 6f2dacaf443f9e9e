"""Command-line commands for the model engines: ``narrate engines`` and ``narrate explain``.

Plain ``click.Command`` objects (``engines_command``, ``explain_command``) that ``narrator.cli`` registers.
Importing this module imports no torch: engines are created only when a command runs.
"""

from __future__ import annotations

import json
from typing import Any

import click


def _settings(repo_path: str, overrides: dict[str, Any] | None = None) -> Any:
    from narrator.config import load_config
    from narrator.errors import RepositoryError
    from narrator.git.walker import Repository

    try:
        repo = Repository.open(repo_path)
        root = None if repo.bare else repo.root
    except RepositoryError:
        root = None  # `narrate engines` works outside a repository too
    return load_config(root).with_overrides(overrides or {})


@click.command("engines", help="List the narration engines (built-in and plugins) with their status.")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH",
              help="Repository whose .narrator.toml applies.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def engines_command(repo_path: str, fmt: str) -> None:
    from narrator.engines import registry

    config = _settings(repo_path)
    statuses = registry.statuses(lambda name: config.section(f"engines.{name}"))
    current = config.get("engine", "heuristic")
    if fmt == "json":
        click.echo(json.dumps([{"name": s.name, "installed": s.installed, "detail": s.detail,
                                "selected": s.name == current} for s in statuses], indent=2))
        return
    for s in statuses:
        mark = "*" if s.name == current else " "
        state = "installed" if s.installed else "not installed"
        click.echo(f"{mark} {s.name:<10} {state:<14} {s.detail}")


@click.command("explain", help="Explain a function, class or file in plain English: PATH[:SYMBOL], e.g. "
                               "src/app.py:Cart.total.")
@click.argument("target", metavar="PATH[:SYMBOL]")
@click.option("--rev", default="HEAD", show_default=True, help="Revision to read the code at.")
@click.option("--repo", "repo_path", default=".", show_default=True, metavar="PATH", help="Repository.")
@click.option("--engine", "engine_name", default=None, help="Engine (default: the configured one).")
@click.option("--model", default=None, help="hf engine: model id, directory or .gguf file.")
@click.option("--adapter", default=None, help="hf engine: LoRA adapter directory.")
@click.option("--gguf-file", default=None, help="hf engine: GGUF file (path or name inside --model).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain_command(target: str, rev: str, repo_path: str, engine_name: str | None, model: str | None,
                    adapter: str | None, gguf_file: str | None, fmt: str) -> None:
    from narrator.engines import registry
    from narrator.explain import explain

    overrides = {"engines.hf.model": model, "engines.hf.adapter": adapter, "engines.hf.gguf_file": gguf_file}
    config = _settings(repo_path, overrides)
    name = engine_name or config.get("engine", "heuristic")
    engine = registry.create(name, config.section(f"engines.{name}"))
    result = explain(target, rev=rev, repo_path=repo_path, engine=engine)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    unit = result.unit
    where = f"{unit.path}:{unit.name}" if unit.name else unit.path
    click.echo(f"{where} (lines {unit.start_line}-{unit.end_line} at {rev})")
    click.echo(result.text)
    if result.fallback_reason:
        click.echo(f"(written from the code's own description: the {result.engine} answer was rejected: "
                   f"{result.fallback_reason})")

