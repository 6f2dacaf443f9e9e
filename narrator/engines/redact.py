"""Secret redaction: everything a model engine sends (local model or remote server) passes through here first.

Secrets in diff, message and code text are replaced by ``[REDACTED]``; files that hold secrets by nature
(``.env``, ``prod.env``, ``.envrc``, ``.htpasswd``, docker ``config.json``, kubeconfigs, ``id_rsa``, ``*.pem``,
credentials files, and any text with a ``client-key-data`` entry) are never sent at all. Redaction keeps the
surrounding text (variable names, URLs without their passwords) so the model can still say what changed.

Where the rules come from. The token formats are the gitleaks rule set (``gitleaks/gitleaks.toml``, vendored
as data with its MIT licence, never fetched at run time). detect-secrets (Yelp) was evaluated and not chosen:

- coverage and upkeep: gitleaks ships ~220 provider rules (AWS, GitHub, Slack, Stripe, JWT, private keys,
  a generic key rule with an entropy threshold...) and is released every few weeks; detect-secrets has ~27
  plugins and its last release is from 2024;
- weight: the rules are one TOML file read with ``tomllib``; detect-secrets would add ``requests`` and
  ``pyyaml`` to every install (the ``openai`` engine runs on a core install, so redaction must too), and its
  plugins are driven through process-global settings, not made to redact text in place;
- speed: each gitleaks rule names keywords, so a rule's regex only runs on text that contains one of them.

The rules are written for Go's linear-time RE2; here they run on the ``regex`` package (a core dependency:
it reads RE2's inline flags and POSIX classes as Go does) with a time limit per scan, and a text whose scan
runs out of time is withheld whole (fail closed). gitleaks finds credentials with a recognisable shape; a
few narrator rules below add the structural families it leaves out (quoted passwords with spaces, literal
defaults in ``get_env('X', 'literal')``, PHP ``define('DB_PASSWORD', ...)``, URLs with ``user:password@``,
Sentry-style DSN keys, connection strings, Stripe webhook secrets). Secrets are never logged.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

from narrator.prompts import FileDiff, skip_reason

log = logging.getLogger(__name__)

MASK = "[REDACTED]"
RULES_FILE = Path(__file__).with_name("gitleaks") / "gitleaks.toml"
SCAN_TIMEOUT_S = 2.0  # per rule and text; far above any real diff (milliseconds), short enough never to hang


# -- files that are never sent --------------------------------------------------------------------------------

_SECRET_FILES = re.compile(
    r"(?:^|/)(?:"
    r"\.env(?:\.[\w.-]+)?|[\w.-]+\.env|\.envrc|\.flaskenv|\.htpasswd|\.netrc|_netrc|\.pgpass|\.my\.cnf|"
    r"\.git-credentials|\.npmrc|\.pypirc|\.dockercfg|\.docker/config\.json|\.kube/config|kubeconfig(?:\.ya?ml)?|"
    r"[\w.-]+\.kubeconfig|id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|credentials(?:\.json|\.ya?ml|\.toml|\.xml)?|"
    r"secrets?\.(?:ya?ml|json|toml|env)|\.boto|\.s3cfg|terraform\.tfstate(?:\.backup)?"
    r")$"
    r"|\.(?:pem|key|p12|pfx|keystore|jks|ppk|kdbx|tfstate|tfvars)$",
    re.IGNORECASE,
)
# Text that is a credentials file whatever its name: kubeconfig key data, a docker config with registry auth.
_SECRET_CONTENT = re.compile(
    r"\b(?:client-key-data|client-certificate-data)\s*:|\"auths\"\s*:\s*\{[^}]{0,400}\"auth\"\s*:",
)


def is_secrets_file(path: str) -> bool:
    """True for files whose content is never sent to any engine (.env, keys, credentials, kubeconfigs)."""
    if not path:
        return False
    if _SECRET_FILES.search(path) or skip_reason(path) == "secrets file":
        return True
    return any(rule.path is not None and rule.pattern is None and rule.path.search(path) for rule in _rules())


def is_secrets_text(text: str) -> bool:
    """True when the text itself is a credentials file (kubeconfig key data, docker registry auth)."""
    return bool(text) and _SECRET_CONTENT.search(text) is not None


def redact_files(files: Sequence[FileDiff]) -> list[FileDiff]:
    """Per-file diffs safe to send: secrets files emptied (still named), secrets in other files masked."""
    out = []
    for f in files:
        if is_secrets_file(f.path) or (f.old_path and is_secrets_file(f.old_path)) or is_secrets_text(f.diff):
            out.append(replace(f, diff=""))
        else:
            out.append(replace(f, diff=redact(f.diff, f.path)))
    return out


# -- the gitleaks rules ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Allowlist:
    regexes: tuple[Any, ...]
    stopwords: tuple[str, ...]
    target: str  # "secret", "match" or "line"
    needs_all: bool  # condition = "AND"
    has_paths: bool


@dataclass
class _Rule:
    id: str
    keywords: tuple[str, ...]
    source: str | None
    secret_group: int
    entropy: float
    path: Any | None
    allowlists: tuple[_Allowlist, ...]
    _compiled: Any = field(default=None, repr=False)

    @property
    def multiline(self) -> bool:
        """True when a match may span many lines (a private key block, a YAML document)."""
        source = self.source or ""
        return "[\\s\\S" in source or "(?s" in source or "\\n" in source

    @property
    def pattern(self) -> Any | None:
        if self.source is None:
            return None
        if self._compiled is None:
            import regex

            self._compiled = regex.compile(self.source)
        return self._compiled


@dataclass(frozen=True)
class _RuleSet:
    rules: tuple[_Rule, ...]
    allowlists: tuple[_Allowlist, ...]


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _allowlist(table: dict[str, Any]) -> _Allowlist:
    import regex

    return _Allowlist(
        regexes=tuple(regex.compile(r) for r in table.get("regexes", [])),
        stopwords=tuple(str(w).lower() for w in table.get("stopwords", [])),
        target=str(table.get("regexTarget", "secret")),
        needs_all=str(table.get("condition", "OR")).upper() == "AND",
        has_paths=bool(table.get("paths") or table.get("commits")),
    )


_RULE_SET: _RuleSet | None = None


def _rule_set() -> _RuleSet:
    global _RULE_SET
    if _RULE_SET is None:
        import regex

        data = _load_toml(RULES_FILE)
        rules = []
        for item in data.get("rules", []):
            rules.append(_Rule(
                id=str(item["id"]),
                keywords=tuple(str(k).lower() for k in item.get("keywords", [])),
                source=item.get("regex"),
                secret_group=int(item.get("secretGroup", 0)),
                entropy=float(item.get("entropy", 0.0)),
                path=regex.compile(item["path"]) if item.get("path") else None,
                allowlists=tuple(_allowlist(a) for a in item.get("allowlists", [])),
            ))
        top = data.get("allowlist")
        _RULE_SET = _RuleSet(tuple(rules), (_allowlist(top),) if top else ())
    return _RULE_SET


def _rules() -> tuple[_Rule, ...]:
    return _rule_set().rules


def _entropy(text: str) -> float:
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _allowed(lists: Sequence[_Allowlist], secret: str, match: str, line: str) -> bool:
    lower = secret.lower()
    for a in lists:
        target = match if a.target == "match" else line if a.target == "line" else secret
        by_regex = bool(a.regexes) and any(r.search(target) for r in a.regexes)
        by_word = bool(a.stopwords) and any(w in lower for w in a.stopwords)
        if a.needs_all:
            # Paths and commits are not known here: such a list never allows (redact more, never less).
            checks = ([by_regex] if a.regexes else []) + ([by_word] if a.stopwords else [])
            if checks and all(checks) and not a.has_paths:
                return True
        elif by_regex or by_word:
            return True
    return False


# Rule allowlists exist to keep a scanner's report short (documented example keys, test fixtures). Masking one
# of those costs a model nothing, so they are ignored, except for the generic rule, whose allowlist keeps
# ordinary identifiers (`api_version`, `author`) readable. The global allowlist (placeholders) always applies.
_NOISY_RULES = {"generic-api-key"}


class _ScanTimeout(Exception):
    pass


def _gitleaks_spans(text: str, path: str | None) -> Iterator[tuple[int, int]]:
    rule_set = _rule_set()
    lower = text.lower()
    for rule in rule_set.rules:
        if rule.source is None:
            continue
        if rule.keywords and not any(k in lower for k in rule.keywords):
            continue
        if rule.path is not None and path is not None and not rule.path.search(path):
            continue
        try:
            matches = [m for pos, endpos in _windows(text, lower, rule)
                       for m in rule.pattern.finditer(text, pos, endpos, timeout=SCAN_TIMEOUT_S)]
        except TimeoutError:
            raise _ScanTimeout(rule.id) from None
        for m in matches:
            start, end = _secret_span(m, rule.secret_group)
            secret = text[start:end]
            if not secret or secret == MASK:
                continue
            if rule.entropy and _entropy(secret) <= rule.entropy:
                continue
            line_start = text.rfind("\n", 0, m.start()) + 1
            line_end = text.find("\n", m.end())
            line = text[line_start:line_end if line_end >= 0 else len(text)]
            whole = m.group(0).strip("\n")
            if _allowed(rule_set.allowlists, secret, whole, line):
                continue
            if rule.id in _NOISY_RULES and _allowed(rule.allowlists, secret, whole, line):
                continue
            yield start, end


def _windows(text: str, lower: str, rule: _Rule) -> list[tuple[int, int]]:
    """Where ``rule`` can match: the lines around its keywords (the whole text for multi-line rules).

    A rule's keywords are part of every match it makes, so only the line holding a keyword and the next
    one (a match may cross one line end) need the regex: the common keywords of the generic rule ("key",
    "token") appear on a few lines of a diff, not on every position of it.
    """
    if not rule.keywords or rule.multiline:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    for keyword in rule.keywords:
        found = lower.find(keyword)
        while found >= 0:
            start = text.rfind("\n", 0, found) + 1
            end = text.find("\n", found + len(keyword))
            end = len(text) if end < 0 else text.find("\n", end + 1)
            end = len(text) if end < 0 else end
            spans.append((start, end))
            found = lower.find(keyword, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _secret_span(m: Any, group: int) -> tuple[int, int]:
    if group and group <= (m.re.groups or 0) and m.start(group) >= 0:
        return m.span(group)
    for index in range(1, (m.re.groups or 0) + 1):
        if m.start(index) >= 0 and m.end(index) > m.start(index):
            return m.span(index)
    start, end = m.span()
    while start < end and m.string[start] == "\n":
        start += 1
    while end > start and m.string[end - 1] == "\n":
        end -= 1
    return start, end


# -- narrator's structural rules (the families gitleaks leaves out) -------------------------------------------------
# Each pattern is linear on any input: every repetition is bounded or cannot overlap its neighbour.

_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pass|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"client[_-]?secret|auth[_-]?key|credentials?|session[_-]?key|signing[_-]?key|encryption[_-]?key|bearer|"
    r"dsn|salt)"
)
_SECRET_NAME = r"[A-Za-z0-9_.-]{0,40}?" + _SECRET_WORD + r"[A-Za-z0-9_.-]{0,40}"
_IS_SECRET_NAME = re.compile(r"(?i)^" + _SECRET_NAME + r"$")

# -----BEGIN ... PRIVATE KEY----- blocks, also unterminated and inside diffs (lines may carry +/-/space).
_PRIVATE_KEY = re.compile(
    r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
# scheme://user:password@host -> the password; scheme://<16+ character key>@host (Sentry DSN, token URLs) -> the key
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@'\"]{0,200}:(?P<s>[^\s@/'\"]{1,200})@")
_URL_KEY = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://(?P<s>[A-Za-z0-9_~%.-]{16,200})@")
# Connection strings: Password=...; Pwd=...; AccountKey=...; SharedAccessKey=...
_CONN_PART = re.compile(
    r"(?i)(?<![\w.])(?:password|pwd|accountkey|sharedaccesskey|sharedsecret)="
    r"(?P<s>[^;\s'\"]{1,200}|[^;'\"\n]{1,200}(?=;))"
)
# Token shapes gitleaks has no rule for.
_TOKENS = re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}|\bsk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,}\b")
# --password value / --token=value / --api-key "a b"
_CLI_FLAG = re.compile(
    r"(?i)(?<![\w-])--?(?:password|passwd|token|api-key|secret)(?:=|\s+)(?:\"(?P<s1>[^\"\n]{1,200})\"|"
    r"'(?P<s2>[^'\n]{1,200})'|(?P<s3>[^\s\"'-][^\s\"']{3,199}))"
)
_AUTH_HEADER = re.compile(
    r"(?i)\bAuthorization[\"']?\s*[:=]\s*[\"']?(?:Bearer|Basic|Token)\s+(?P<s>[A-Za-z0-9._~+/=-]{8,})"
    r"|\bBearer\s+(?P<b>[A-Za-z0-9._~+/=-]{16,})"
)
# NAME = <value> / NAME: <value> / "name": <value> / NAME := <value> / 'name' => <value>, NAME secret-like.
_SECRET_WORD_RE = re.compile(_SECRET_WORD, re.IGNORECASE)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# What follows a secret-like NAME in an assignment: NAME = <value> / NAME: <value> / "name": <value> /
# NAME := <value> / 'name' => <value> / $config['name'] = <value>.
_AFTER_NAME = re.compile(r"[\"'`]?\]?[ \t]{0,20}(?::=|=>|\?=|[:=])[ \t]{0,20}(?P<value>[^\n]{1,500})")
# 'SECRET_NAME', 'literal' as the first two arguments of a call: define('DB_PASSWORD', '...'),
# config.set("db.password", "..."), ENV.fetch('API_TOKEN', '...').
_NAMED_PAIR = re.compile(
    r"(?P<q1>[\"'])(?P<name>" + _SECRET_NAME + r")(?P=q1)\s{0,20},\s{0,20}"
    r"(?:\"(?P<s1>[^\"\n]{1,500})\"|'(?P<s2>[^'\n]{1,500})')",
    re.IGNORECASE,
)
_STRING_LITERAL = re.compile(r"\"(?P<s1>[^\"\n]{0,500})\"|'(?P<s2>[^'\n]{0,500})'|`(?P<s3>[^`\n]{0,500})`")
_BARE_VALUE = re.compile(r"[^\s\"'`,;)}\]]{4,200}")

# Values that are obviously not secrets (placeholders, references to other variables).
_PLACEHOLDER = re.compile(
    r"(?i)^(?:none|null|nil|true|false|undefined|empty|xxx+|\*+|<[^>]*>|\$\{?[\w.]+\}?|\{\{[^}]*\}\}|%[\w]+%|"
    r"\[REDACTED\]|)$"
)
# A string that names something (an environment variable, a config key) rather than being a secret.
_NAME_LIKE = re.compile(r"^[A-Z][A-Z0-9_]{1,80}$|^[a-z][a-z0-9_]{0,40}(?:\.[a-z][a-z0-9_]{0,40}){1,5}$")
_REFERENCE = re.compile(
    r"(?i)^(?:os\.environ|process\.env|env\b|getenv|settings\.|config\.|self\.|this\.|request\.|\$_(?:ENV|SERVER)|ENV\[)"
)


def _group_span(m: re.Match[str], *names: str) -> tuple[int, int] | None:
    for name in names:
        if m.group(name) is not None:
            return m.span(name)
    return None


def _literal_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of the string literals in text[start:end] that may be secrets (not names, not placeholders)."""
    for m in _STRING_LITERAL.finditer(text, start, end):
        span = _group_span(m, "s1", "s2", "s3")
        if span is None:
            continue
        value = text[span[0]:span[1]]
        if _PLACEHOLDER.match(value) or _NAME_LIKE.match(value):
            continue
        yield span


def _assignments(text: str) -> Iterator[re.Match[str]]:
    """Matches of ``_AFTER_NAME`` right after each secret-like name (found from its secret word outwards:
    one fast scan for the words instead of trying a name at every position)."""
    done = 0
    for word in _SECRET_WORD_RE.finditer(text):
        if word.start() < done:
            continue
        start, end = word.span()
        limit = max(0, start - 40)
        while start > limit and text[start - 1] in _NAME_CHARS:
            start -= 1
        if start > 0 and text[start - 1] in _NAME_CHARS:
            continue  # part of a longer name than any secret name
        limit = min(len(text), end + 40)
        while end < limit and text[end] in _NAME_CHARS:
            end += 1
        done = end
        m = _AFTER_NAME.match(text, end)
        if m is not None:
            yield m


def _assignment_spans(text: str) -> Iterator[tuple[int, int]]:
    for m in _assignments(text):
        value_start, value_end = m.span("value")
        value = m.group("value")
        head = value[:1]
        if head in "\"'`":
            # a quoted literal: the whole of it, spaces and commas included
            first = _STRING_LITERAL.match(text, value_start, value_end)
            if first is not None:
                span = _group_span(first, "s1", "s2", "s3")
                if span and not _PLACEHOLDER.match(text[span[0]:span[1]]):
                    yield span
                value_start = first.end()
            yield from _literal_spans(text, value_start, value_end)  # "a" + "b", "x" or "fallback"
            continue
        if head == "=":  # `==` comparison: the literal compared with
            yield from _literal_spans(text, value_start, value_end)
            continue
        bare = _BARE_VALUE.match(value)
        token = bare.group(0) if bare else ""
        if "(" in value[:len(token) + 1] or "[" in value[:len(token) + 1] or _REFERENCE.match(value):
            # an expression: get_env('X', 'literal'), os.environ.get("K", "default"), env("K", default="...")
            yield from _literal_spans(text, value_start, value_end)
            continue
        if not token or _PLACEHOLDER.match(token) or token.endswith(("(", "{")):
            continue
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", token) and not re.search(r"\d", token) and len(token) < 24:
            continue  # a bare identifier (`token = request_token`) is a reference, not a literal secret
        yield value_start, value_start + len(token)


# Substrings every match of a structural rule contains (a cheap test before the regex runs).
_HINTS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (_URL_PASSWORD, ("://",)), (_URL_KEY, ("://",)),
    (_CONN_PART, ("password=", "pwd=", "accountkey=", "sharedaccesskey=", "sharedsecret=")),
    (_AUTH_HEADER, ("bearer", "authorization")),
]


def _structural_spans(text: str, lower: str | None = None) -> Iterator[tuple[int, int]]:
    lower = text.lower() if lower is None else lower
    if "-----begin" in lower:
        for m in _PRIVATE_KEY.finditer(text):
            yield m.span()
    for pattern, hints in _HINTS:
        if any(h in lower for h in hints):
            for m in pattern.finditer(text):
                span = _group_span(m, *pattern.groupindex)
                if span:
                    yield span
    if "whsec_" in lower or "sk-" in lower:
        for m in _TOKENS.finditer(text):
            yield m.span()
    if any(h in lower for h in ("-password", "-passwd", "-token", "-api-key", "-secret")):
        for m in _CLI_FLAG.finditer(text):
            span = _group_span(m, "s1", "s2", "s3")
            if span:
                yield span
    if "," in text:
        for m in _NAMED_PAIR.finditer(text):
            span = _group_span(m, "s1", "s2")
            if span and not _PLACEHOLDER.match(text[span[0]:span[1]]):
                yield span
    yield from _assignment_spans(text)


# -- redaction -------------------------------------------------------------------------------------------------------

def secret_spans(text: str, path: str | None = None) -> list[tuple[int, int]]:
    """The (start, end) spans of ``text`` that hold secrets, merged and sorted; [(0, len)] when the scan timed out."""
    if not text:
        return []
    try:
        spans = list(_gitleaks_spans(text, path))
    except _ScanTimeout as exc:
        log.debug("secret scan (rule %s) ran out of time on %s; the text is withheld", exc,
                  path or "a text")
        return [(0, len(text))]
    spans += list(_structural_spans(text))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, path: str | None = None) -> str:
    """``text`` with secrets replaced by ``[REDACTED]`` (idempotent; cheap on text without secrets).

    ``path`` (the file the text comes from, when known) lets path-specific rules apply only to their files.
    """
    if not text:
        return text
    spans = secret_spans(text, path)
    if not spans:
        return text
    out = []
    position = 0
    for start, end in spans:
        out.append(text[position:start])
        out.append(MASK)
        position = end
    out.append(text[position:])
    return "".join(out)
