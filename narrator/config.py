"""Typed, layered configuration: defaults < user file < repository .narrator.toml < NARRATOR_* env < flags.

Every value remembers where it came from (``narrate config show``). Keys are dotted (``digest.out_dir``);
a TOML table ``[digest]`` with ``out_dir = ...`` sets ``digest.out_dir``. Values are checked against the
type of their default. Keys under ``engines.`` that narrator does not know are kept for plugin engines.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from narrator.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

REPO_CONFIG_NAME = ".narrator.toml"

DEFAULT_BOT_PATTERNS = [
    "*[bot]*",
    "dependabot*",
    "renovate*",
    "github-actions*",
    "greenkeeper*",
    "snyk-bot*",
    "pre-commit-ci*",
    "imgbot*",
    "allcontributors*",
]

DEFAULTS: dict[str, Any] = {
    "engine": "heuristic",
    "timezone": "local",
    "bots.patterns": DEFAULT_BOT_PATTERNS,
    "bots.include": False,
    "areas": {},  # glob -> area name, first match wins, e.g. {"src/api/**" = "Public API"}
    "classify.rules": [],  # extra rules tried before the built-in ones (see narrator.git.classify)
    "report.format": "",  # empty: term on a TTY, md otherwise
    "report.title": "",
    "report.per_person": False,
    "report.large_change_lines": 400,
    "report.hotspot_min_commits": 5,
    "report.fix_share_warning": 0.5,
    "report.highlights": 6,
    "digest.out_dir": "narrator-digests",
    "digest.formats": ["md", "html"],
    "digest.week_start": "monday",
    "digest.weeks": 2,  # weeks `narrate digest` writes by default: the current one and the one before
    "hook.enabled": True,
    "hook.timeout_s": 600,
    "hook.nice": 10,
    "hook.recent_commits": 10,  # the hook job narrates HEAD and up to this many recent commits still missing
    "engines.hf.model": "deepseek-ai/deepseek-coder-1.3b-instruct",
    "engines.hf.adapter": "",
    "engines.hf.gguf_file": "",
    "engines.hf.quantize": "auto",
    "engines.hf.device": "auto",
    "engines.hf.dtype": "auto",
    "engines.hf.threads": 0,
    "engines.hf.batch_size": 8,
    "engines.hf.max_new_tokens": 48,
    "engines.hf.max_prompt_tokens": 1024,
    "engines.hf.headline": True,
    "engines.openai.base_url": "http://localhost:11434/v1",
    "engines.openai.model": "",
    "engines.openai.api_key_env": "OPENAI_API_KEY",
    "engines.openai.timeout_s": 60.0,
    "engines.openai.retries": 3,
    "engines.openai.concurrency": 4,
    "engines.openai.max_new_tokens": 80,
    "engines.openai.max_prompt_tokens": 3000,
    "engines.openai.backoff_s": 1.0,
}


def user_config_path() -> Path:
    override = os.environ.get("NARRATOR_CONFIG_FILE")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("narrator")) / "config.toml"


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    source: str


@dataclass
class Config:
    """Resolved configuration; ``values[key]`` holds a ``Setting`` with its source."""

    values: dict[str, Setting] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        setting = self.values.get(key)
        return default if setting is None else setting.value

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key].value
        except KeyError:
            raise ConfigError(f"unknown config key '{key}'") from None

    def section(self, prefix: str) -> dict[str, Any]:
        """All values under ``prefix.`` with the prefix removed (``section('engines.hf')``)."""
        dot = prefix.rstrip(".") + "."
        return {k[len(dot):]: s.value for k, s in self.values.items() if k.startswith(dot)}

    def items(self) -> Iterator[Setting]:
        return iter(sorted(self.values.values(), key=lambda s: s.key))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "command line") -> "Config":
        values = dict(self.values)
        for key, value in overrides.items():
            if value is None:
                continue
            values[key] = Setting(key, _check(key, value, source), source)
        return Config(values)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in ("areas",) and not _is_dict_default(dotted):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _is_dict_default(key: str) -> bool:
    return isinstance(DEFAULTS.get(key), dict)


def _check(key: str, value: Any, source: str) -> Any:
    if key not in DEFAULTS:
        if key.startswith("engines."):
            return value  # a plugin engine's own setting
        raise ConfigError(f"unknown config key '{key}' in {source}; see `narrate config show` for valid keys")
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif isinstance(default, int) and not isinstance(default, bool):
        try:
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return int(value)
        except ValueError:
            pass
    elif isinstance(default, float):
        try:
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                return float(value)
        except ValueError:
            pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return value
    elif isinstance(default, dict):
        if isinstance(value, dict):
            return value
    raise ConfigError(
        f"config key '{key}' in {source} must be a {type(default).__name__}, got {value!r}"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def load_config(repo_root: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Resolve every layer except command-line flags (add those with ``with_overrides``)."""
    env = os.environ if env is None else env
    values = {key: Setting(key, value, "default") for key, value in DEFAULTS.items()}
    layers: list[tuple[str, dict[str, Any]]] = []
    user_file = user_config_path()
    layers.append((str(user_file), _read_toml(user_file)))
    if repo_root is not None:
        repo_file = Path(repo_root) / REPO_CONFIG_NAME
        layers.append((str(repo_file), _read_toml(repo_file)))
    for source, table in layers:
        for key, value in _flatten(table):
            values[key] = Setting(key, _check(key, value, source), source)
    for name, raw in env.items():
        if not name.startswith("NARRATOR_") or name in _ENV_NOT_CONFIG:
            continue
        key = name[len("NARRATOR_"):].lower().replace("__", ".")
        if key in DEFAULTS or key.startswith("engines."):
            values[key] = Setting(key, _check(key, raw, f"${name}"), f"${name}")
    return Config(values)


# Environment variables narrator reads for other purposes (not config keys).
_ENV_NOT_CONFIG = {"NARRATOR_CACHE_DIR", "NARRATOR_CONFIG_FILE", "NARRATOR_HOOK_CHILD"}
