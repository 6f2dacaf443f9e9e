"""``narrate engines``: the narration engines (built-in and plugins), their status and which is selected."""

from __future__ import annotations

import json

import click

from narrator.cli.common import model_options, model_overrides, open_session, repo_option


@click.command("engines", help="List the narration engines (built-in and plugins) with their status.")
@repo_option("Repository whose .narrator.toml applies.")
@model_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def engines_command(repo_path: str, model: str | None, adapter: str | None, fmt: str) -> None:
    from narrator.engines import registry
    from narrator.git.text import one_line

    _repo, settings = open_session(repo_path, model_overrides(model, adapter), outside_repo_ok=True)

    def section(name: str) -> dict:
        found = settings.engine_section(name)
        if name == "hf":  # the hf engine says where a configured model came from (flag, file, variable)
            found["_sources"] = {k: v for k, v in settings.sources.items() if k.startswith("engines.hf.")}
        return found

    statuses = registry.statuses(section)
    current = settings.engine
    if fmt == "json":
        click.echo(json.dumps([{"name": s.name, "installed": s.installed, "detail": s.detail, "lines": list(s.lines),
                                "selected": s.name == current} for s in statuses], indent=2))
        return
    for s in statuses:
        mark = "*" if s.name == current else " "
        state = "installed" if s.installed else "not installed"
        click.echo(one_line(f"{mark} {s.name:<10} {state:<14} {s.detail}"))
        for line in s.lines:
            click.echo("    " + one_line(line))
