"""Secret redaction: everything a model engine sends (local model or remote server) passes through here first.

API keys, tokens, private keys, passwords and connection-string credentials are replaced by ``[REDACTED]``
in diff and code text; files that hold secrets by nature (``.env``, ``id_rsa``, ``*.pem``, credentials files)
are never sent at all (``narrator.prompts.skip_reason`` names them "secrets file"). Redaction keeps the
surrounding text (variable names, URLs without their passwords) so the model can still say what changed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from narrator.prompts import FileDiff, skip_reason

MASK = "[REDACTED]"

# Token formats with a recognisable shape (matched anywhere).
_TOKEN_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),  # GitLab
    re.compile(r"\bsk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,}\b"),  # OpenAI / Anthropic style
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),  # Stripe
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),  # Slack
    re.compile(r"\bhooks\.slack\.com/services/[A-Za-z0-9/]+"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
    re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"),  # Google OAuth access tokens
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),  # Hugging Face
    re.compile(r"\bnpm_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bpypi-[A-Za-z0-9_-]{40,}\b"),
    re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\b"),  # SendGrid
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
]

# -----BEGIN ... PRIVATE KEY----- blocks, also inside diffs (each line may carry a +/-/space prefix).
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)

# scheme://user:password@host -> scheme://user:[REDACTED]@host
_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@'\"]*:)([^\s@/'\"]+)(@)")

# Connection strings in key=value form: Password=...; Pwd=...; AccountKey=...; SharedAccessKey=...
_CONN_PARTS = re.compile(
    r"(?i)(?<![\w.])((?:password|pwd|accountkey|sharedaccesskey|sharedsecret)=)([^;\s'\"]+)(?=;|['\"]|\s|$)"
)

# NAME = "value" / NAME: value / --password value / "name": "value" where NAME looks secret.
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|passphrase|pass|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?|session[_-]?key|signing[_-]?key|"
    r"encryption[_-]?key|bearer)[A-Za-z0-9_.-]*"
)
_ASSIGNMENT = re.compile(
    r"(?i)(?P<key>[\"']?\b" + _SECRET_NAME + r"[\"']?\s*(?::=|=>|[:=])\s*)"
    r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;)}\]]{4,})(?P=quote)"
)
_CLI_FLAG = re.compile(r"(?i)(--?(?:password|passwd|token|api-key|secret)[= ])([^\s\"']{4,})")
_AUTH_HEADER = re.compile(r"(?i)(\bAuthorization\s*[:=]\s*[\"']?(?:Bearer|Basic|Token)\s+)([A-Za-z0-9._~+/=-]{8,})")
_BEARER = re.compile(r"(?i)(\bBearer\s+)([A-Za-z0-9._~+/=-]{16,})")

# Values that are obviously not secrets (placeholders, references to other variables, function calls).
_PLACEHOLDER = re.compile(
    r"(?i)^(?:none|null|nil|true|false|undefined|empty|changeme|xxx+|\*+|<[^>]*>|\$\{?[\w.]+\}?|"
    r"os\.environ.*|process\.env.*|env\(.*|getenv.*|settings\..*|config\..*|self\..*|"
    r"\[REDACTED\])$"
)


def _mask_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.startswith("[REDACTED") or _PLACEHOLDER.match(value) or value.endswith("(") or "(" in value:
        return match.group(0)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value) and not re.search(r"\d", value) and len(value) < 24:
        # a bare identifier (`token = request_token`) is a reference, not a literal secret
        return match.group(0)
    quote = match.group("quote")
    return f"{match.group('key')}{quote}{MASK}{quote}"


def _keep_or_mask(match: re.Match[str], tail: str = "") -> str:
    """Mask group 2 after group 1, unless it is already masked (redaction must be idempotent)."""
    if match.group(2).startswith("[REDACTED"):
        return match.group(0)
    return match.group(1) + MASK + tail


def redact(text: str) -> str:
    """``text`` with secrets replaced by ``[REDACTED]`` (idempotent; cheap on text without secrets)."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub(MASK, text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(MASK, text)
    text = _URL_CREDENTIALS.sub(lambda m: _keep_or_mask(m, m.group(3)), text)
    text = _CONN_PARTS.sub(_keep_or_mask, text)
    text = _AUTH_HEADER.sub(_keep_or_mask, text)
    text = _BEARER.sub(_keep_or_mask, text)
    text = _CLI_FLAG.sub(_keep_or_mask, text)
    text = _ASSIGNMENT.sub(_mask_assignment, text)
    return text


def is_secrets_file(path: str) -> bool:
    """True for files whose content is never sent to any engine (.env, keys, credentials)."""
    return skip_reason(path) == "secrets file"


def redact_files(files: Sequence[FileDiff]) -> list[FileDiff]:
    """Per-file diffs safe to send: secrets files emptied (still named), secrets in other files masked."""
    out = []
    for f in files:
        if is_secrets_file(f.path) or (f.old_path and is_secrets_file(f.old_path)):
            out.append(replace(f, diff=""))
        else:
            out.append(replace(f, diff=redact(f.diff)))
    return out
