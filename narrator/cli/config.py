"""``narrate config show``: every setting with its value and where it came from (generated from the typed settings)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from narrator.cli.common import open_session, repo_option, verbose_option


_SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_?key|credential)s?$", re.I)


def _masked(key: str, value: object) -> object:
    """A value safe to print: a password inside a URL (``https://user:pw@host``) masked, and the value of a
    plugin setting named like a secret (``engines.x.api_key``) hidden; ``*_env`` keys name variables, not secrets."""
    from narrator.engines.openai import display_url

    last = key.rsplit(".", 1)[-1]
    if isinstance(value, str) and value and _SECRET_NAME.search(last) and not last.endswith("_env"):
        return "***"
    if isinstance(value, str) and "@" in value and "://" in value:
        return display_url(value)
    return value


@click.group("config")
def config_group() -> None:
    """Inspect narrator's configuration."""


@config_group.command("show")
@repo_option("Repository whose .narrator.toml is read (outside a repository only the user file and environment "
             "apply).")
@click.option("--help-keys", is_flag=True, help="Also print each setting's type and meaning.")
@verbose_option
def config_show(repo_path: str, help_keys: bool) -> None:
    """Print every setting with its value and where it came from."""
    from narrator.config import FIELDS, user_config_path
    from narrator.git.text import one_line

    repo, settings = open_session(repo_path, outside_repo_ok=True)
    click.echo(f"# user config file: {user_config_path()}")
    if repo is not None and not repo.bare:
        click.echo(f"# repository config file: {Path(repo.root) / '.narrator.toml'}")
    for key, value, source in settings.items():
        shown = json.dumps(list(value) if isinstance(value, tuple) else _masked(key, value), ensure_ascii=False,
                           default=str)
        click.echo(one_line(f"{key} = {shown}    # {source}"))
        if help_keys and key in FIELDS:
            spec = FIELDS[key]
            trust = "; only from your own config, environment or flags" if spec.trusted else ""
            click.echo(f"#   {spec.help}{trust}")
