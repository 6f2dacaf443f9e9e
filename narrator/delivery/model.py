"""The plain data of delivery: what is sent (``Parcel``), where (``Destination``), how it went (``DeliveryResult``).

Nothing here does I/O. A ``Parcel`` is built once per rendered report or digest (``parcel_from_context``
reads the report's JSON context, so it works for one repository or several) and handed unchanged to every
destination; its ``identity`` is what the ledger remembers (see ``narrator.delivery`` for the rule).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from narrator.errors import NarratorError, UsageError
from narrator.git.text import one_line

__all__ = [
    "DeliveryError", "DestinationError", "Destination", "Parcel", "DeliveryResult", "Status",
    "content_identity", "parcel_from_context", "clean_line",
]

PAYLOAD_SCHEMA_VERSION = 1  # of the ``narrator`` object in webhook bodies and of outbox entries


class DeliveryError(NarratorError):
    """A report or digest could not be delivered as asked (the reason says what to fix)."""


class DestinationError(DeliveryError, UsageError):
    """A ``--to`` value is not a usable destination: unknown scheme, invalid address or URL (exit 2)."""


def clean_line(value: object, limit: int = 0) -> str:
    """Untrusted text on one line (``narrator.git.text``, the one sanitizer), cut to ``limit`` characters."""
    text = one_line(value)
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


class Status(str, Enum):
    DELIVERED = "delivered"
    QUEUED = "queued"      # kept in the outbox, retried on the next run
    SKIPPED = "skipped"    # the ledger says this content already reached this destination
    REJECTED = "rejected"  # the destination itself is invalid (nothing could be queued)
    FAILED = "failed"      # not delivered, and it could not be kept in the outbox either


@dataclass(frozen=True)
class Destination:
    """One parsed ``--to`` value. ``uri`` is canonical (what the ledger and the outbox key on)."""

    scheme: str                          # "mailto", "https"/"http" or "file"
    uri: str
    recipients: tuple[str, ...] = ()     # mailto
    url: str = ""                        # webhook
    directory: str = ""                  # file
    flavour: str = ""                    # webhook body shape: "slack" (generic), "discord" or "teams"

    @property
    def display(self) -> str:
        """What is printed and logged: webhook URLs carry secret tokens, so only host and first path step."""
        if self.scheme in ("http", "https"):
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            steps = [s for s in parts.path.split("/") if s]
            # the first step ("services", "api", "hooks") is no secret; the tokens come after it
            tail = f"{steps[0]}/…" if len(steps) > 1 else ("…" if steps or parts.query else "")
            return f"{parts.scheme}://{parts.netloc}/{tail}"
        return self.uri


@dataclass(frozen=True)
class Parcel:
    """One rendered report or digest, ready to be delivered anywhere.

    ``text`` is the plain-text version (the Markdown report reads well as plain text), ``html`` the
    self-contained HTML page; ``files`` are the rendered files (copied by ``file:`` destinations, named in
    webhook summaries), ``attachments`` files attached to mail (e.g. the PDF); ``link`` where the full report
    can be read, when the user publishes it somewhere. ``identity`` is the content identity for the ledger.
    """

    title: str
    identity: str
    kind: str = "report"                          # "report" or "digest"
    repositories: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    period_label: str = ""
    headline: str = ""
    highlights: tuple[str, ...] = ()
    attention: tuple[str, ...] = ()
    numbers: Mapping[str, int] = field(default_factory=dict)
    text: str = ""
    html: str = ""
    files: tuple[Path, ...] = ()
    attachments: tuple[Path, ...] = ()
    link: str = ""

    @property
    def subject(self) -> str:
        """Title, with the period when the title does not already say it (one line, no control characters)."""
        title = clean_line(self.title, 200) or "narrator report"
        period = clean_line(self.period_label, 120)
        if period and period.lower() not in title.lower():
            title = f"{title} ({period})"
        return title


@dataclass(frozen=True)
class DeliveryResult:
    """How one destination went; ``line()`` is the one line the CLI prints."""

    destination: str          # Destination.display, or the raw value for a rejected one
    status: Status
    reason: str = ""
    attempts: int = 0
    outbox_entry: str = ""    # path of the outbox entry when queued

    @property
    def ok(self) -> bool:
        return self.status in (Status.DELIVERED, Status.SKIPPED)

    def line(self) -> str:
        if self.status is Status.DELIVERED:
            tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
            return f"delivered to {self.destination}{tries}" + (f"; {self.reason}" if self.reason else "")
        if self.status is Status.SKIPPED:
            return f"not sent to {self.destination} again: {self.reason}"
        if self.status is Status.QUEUED:
            return (f"not delivered to {self.destination}: {self.reason}; kept in the outbox "
                    f"({self.outbox_entry}) and retried on the next run")
        if self.status is Status.FAILED:
            return f"not delivered to {self.destination}: {self.reason}"
        return f"cannot deliver to {self.destination}: {self.reason}"


def content_identity(kind: str, since: str, until: str, repositories: Iterable[str], shas: Iterable[str]) -> str:
    """``kind:since..until:repo+repo:<hash of the sorted sha set>``: equal exactly when the same commits of the
    same repositories are reported over the same period."""
    digest = hashlib.sha256("\n".join(sorted(set(shas))).encode()).hexdigest()[:16]
    repos = "+".join(sorted(clean_line(r) for r in repositories)) or "-"
    return f"{kind}:{since}..{until}:{repos}:{digest}"


def _shas_in(value: Any) -> Iterable[str]:
    """Every commit sha named in a report context (commit entries, highlights, bots, releases...)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "sha" and isinstance(item, str):
                yield item
            else:
                yield from _shas_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _shas_in(item)


def _as_mapping(context: Any) -> Mapping[str, Any]:
    if isinstance(context, Mapping):
        return context
    from dataclasses import asdict, is_dataclass

    if is_dataclass(context) and not isinstance(context, type):
        return asdict(context)
    raise TypeError("parcel_from_context needs a report context mapping or a Report dataclass")


def parcel_from_context(context: Any, *, html: str = "", text: str = "", files: Sequence[str | Path] = (),
                        attachments: Sequence[str | Path] = (), kind: str | None = None, link: str = "",
                        shas: Iterable[str] | None = None, period_key: str | None = None,
                        highlights: int = 5) -> Parcel:
    """A ``Parcel`` from a report context (``Report`` or its JSON context; several repositories supported).

    ``shas`` defaults to every sha named in the context; ``period_key`` (e.g. the digest week ``2026-W33``)
    replaces since..until in the identity when given.
    """
    ctx = _as_mapping(context)
    repos_value = ctx.get("repositories")
    if isinstance(repos_value, (list, tuple)) and repos_value:
        repositories = tuple(clean_line(r.get("name", r.get("repository", "")) if isinstance(r, Mapping) else r)
                             for r in repos_value)
    else:
        repositories = (clean_line(ctx.get("repository", "")),) if ctx.get("repository") else ()
    found_kind = kind or ("digest" if ctx.get("digest") else "report")
    since, until = str(ctx.get("since", "")), str(ctx.get("until", ""))
    commit_shas = list(shas) if shas is not None else list(_shas_in(ctx))
    if period_key:
        identity = content_identity(found_kind, period_key, period_key, repositories, commit_shas)
    else:
        identity = content_identity(found_kind, since, until, repositories, commit_shas)
    lines = []
    for release in ctx.get("releases") or []:
        if isinstance(release, Mapping) and release.get("name"):
            lines.append(f"Release {clean_line(release['name'], 80)} went out.")
    for item in ctx.get("highlights") or []:
        value = item.get("text", "") if isinstance(item, Mapping) else item
        if clean_line(value):
            lines.append(clean_line(value, 300))
    attention = []
    for item in ctx.get("attention") or []:
        value = item.get("title", "") if isinstance(item, Mapping) else item
        if clean_line(value):
            attention.append(clean_line(value, 200))
    numbers_value = ctx.get("numbers") or {}
    numbers = {str(k): int(v) for k, v in numbers_value.items() if isinstance(v, (int, float))} \
        if isinstance(numbers_value, Mapping) else {}
    return Parcel(
        title=clean_line(ctx.get("title", ""), 200), identity=identity, kind=found_kind, repositories=repositories,
        since=since, until=until, period_label=clean_line(ctx.get("period_label", ""), 120),
        headline=clean_line(ctx.get("headline", ""), 1000), highlights=tuple(lines[:highlights]),
        attention=tuple(attention), numbers=numbers, text=text, html=html,
        files=tuple(Path(f) for f in files), attachments=tuple(Path(f) for f in attachments), link=link,
    )
