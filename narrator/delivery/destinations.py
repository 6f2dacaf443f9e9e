"""Parse and validate ``--to`` values: ``mailto:``, ``https://`` (``http://`` on this machine only), ``file:DIR``.

Every rejection is a ``DestinationError`` whose one line names the value and how to write it correctly.
Addresses are checked strictly (a dot-atom local part, a domain of valid labels, no display names, no
header-breaking characters) so that nothing a typo or hostile config produces reaches an SMTP command.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from narrator.delivery.model import Destination, DestinationError, clean_line

__all__ = ["parse_destination", "parse_destinations", "validate_address", "LOCAL_HOSTS"]

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_EXAMPLES = "mailto:team@example.com, https://hooks.slack.com/services/..., file:/srv/reports"


def validate_address(address: str, what: str = "address") -> str:
    """The address, stripped, when it is a plain ``local@domain``; ``DestinationError`` otherwise."""
    value = address.strip()
    shown = clean_line(value, 80) or "(empty)"
    if not value:
        raise DestinationError(f"invalid e-mail {what}: it is empty; write e.g. mailto:team@example.com")
    if any(ch in value for ch in "\r\n\x00<>,;\"() ") or _has_control(value):
        raise DestinationError(f"invalid e-mail {what} '{shown}': only a plain address like team@example.com "
                               "is allowed (no names, spaces, brackets or line breaks)")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise DestinationError(f"invalid e-mail {what} '{shown}': it has no '@domain'; write e.g. "
                               "team@example.com")
    if len(local) > 64 or not _LOCAL.match(local):
        raise DestinationError(f"invalid e-mail {what} '{shown}': the part before '@' is not a valid mailbox "
                               "name")
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise DestinationError(f"invalid e-mail {what} '{shown}': the domain is not a valid host name") from None
    labels = ascii_domain.rstrip(".").split(".")
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels) or \
            (len(labels) < 2 and ascii_domain.lower() != "localhost") or labels[-1].isdigit():
        raise DestinationError(f"invalid e-mail {what} '{shown}': '{clean_line(domain, 60)}' is not a valid "
                               "domain (write e.g. team@example.com)")
    return f"{local}@{ascii_domain}"


def _has_control(value: str) -> bool:
    return any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value)


def _mailto(raw: str) -> Destination:
    body = raw[len("mailto:"):]
    if "?" in body:
        raise DestinationError(f"'{clean_line(raw, 80)}': mailto query parts (?subject=...) are not supported; "
                               "give only addresses, e.g. mailto:a@example.com,b@example.com (the subject "
                               "prefix is a setting)")
    parts = [unquote(p) for p in body.split(",")]
    if not any(p.strip() for p in parts):
        raise DestinationError(f"'{clean_line(raw, 80)}' names no address; write e.g. mailto:team@example.com")
    seen: dict[str, str] = {}
    for part in parts:
        if not part.strip():
            continue
        address = validate_address(part)
        seen.setdefault(address.lower(), address)
    recipients = tuple(seen[k] for k in sorted(seen))
    # mailboxes are case-insensitive in practice: the canonical form (ledger, outbox) is lower-cased
    return Destination(scheme="mailto", uri="mailto:" + ",".join(sorted(seen)), recipients=recipients)


def _is_local(host: str) -> bool:
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flavour(host: str, path: str) -> str:
    host = host.lower()
    if host in ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com") and \
            path.startswith("/api/webhooks/"):
        return "discord"
    if host == "outlook.office.com" or host.endswith(".webhook.office.com") or host == "webhook.office.com" \
            or (host.endswith("office.com") and "/webhook" in path.lower()):
        return "teams"
    return "slack"


def _webhook(raw: str) -> Destination:
    shown = clean_line(raw.split("?")[0], 60)
    if any(ch.isspace() for ch in raw) or _has_control(raw):
        raise DestinationError(f"invalid webhook URL '{shown}': it contains spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise DestinationError(f"invalid webhook URL '{shown}': {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        raise DestinationError(f"invalid webhook URL '{shown}': it has no host; write e.g. "
                               "https://hooks.slack.com/services/...")
    if parts.username or parts.password:
        raise DestinationError(f"invalid webhook URL '{shown}': user names or passwords in the URL are not "
                               "supported; use the token the service puts in the path")
    if scheme == "http" and not _is_local(host):
        raise DestinationError(f"refusing plain http:// for '{shown}': the report would travel unencrypted; "
                               "use https:// (http:// is allowed only for localhost, 127.0.0.1 and ::1)")
    if scheme not in ("http", "https"):
        raise DestinationError(f"unknown destination '{shown}'")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Destination(scheme=scheme, uri=url, url=url, flavour=_flavour(host, parts.path or "/"))


def _file(raw: str) -> Destination:
    rest = raw[len("file:"):]
    if rest.startswith("//"):
        parts = urlsplit(raw)
        if parts.netloc not in ("", "localhost"):
            raise DestinationError(f"'{clean_line(raw, 80)}': file: destinations must be on this machine; "
                                   "write file:/path/to/dir")
        rest = unquote(parts.path)
    if not rest.strip() or _has_control(rest):
        raise DestinationError(f"'{clean_line(raw, 80)}' names no directory; write e.g. file:/srv/reports or "
                               "file:reports")
    directory = Path(os.path.expanduser(rest)).absolute()
    return Destination(scheme="file", uri=f"file:{directory}", directory=str(directory))


def parse_destination(value: str) -> Destination:
    """One ``--to`` value as a ``Destination``; ``DestinationError`` (one line, exit 2) when it is not usable."""
    raw = str(value).strip()
    scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
    if scheme == "mailto":
        return _mailto("mailto:" + raw.split(":", 1)[1])
    if scheme in ("http", "https"):
        return _webhook(raw)
    if scheme == "file":
        return _file("file:" + raw.split(":", 1)[1])
    if "@" in raw and ":" not in raw:
        hint = f"; for e-mail write mailto:{clean_line(raw, 60)}"
    elif not scheme:
        hint = "; give a scheme"
    else:
        hint = ""
    raise DestinationError(f"unknown destination '{clean_line(raw, 80)}'{hint} (use {_EXAMPLES})")


def parse_destinations(values: Iterable[str]) -> list[Destination]:
    """Every value parsed (duplicates dropped, order kept); the first invalid one raises ``DestinationError``."""
    out: dict[str, Destination] = {}
    for value in values:
        destination = parse_destination(value)
        out.setdefault(destination.uri, destination)
    return list(out.values())
