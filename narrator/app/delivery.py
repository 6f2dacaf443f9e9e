"""Delivery as the user configured it: ``[delivery]`` settings mapped onto ``narrator.delivery``, ``--to`` values
checked before any work, the outbox flushed at the start of a run, and a rendered report or digest delivered.

``plan_delivery`` fails early (one line, exit 2) for what no retry can fix: an unknown scheme, an invalid
address or URL, mail without a sender, a login without its password variable. What can only fail when sending
(an unreachable host, a 4xx/5xx answer, a TLS failure, a wrong password) becomes a ``DeliveryResult``: the
delivery waits in the outbox and is retried at the start of the next run that delivers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from narrator.config import Settings
from narrator.delivery import (
    DeliveryResult, Destination, Parcel, RetryPolicy, SmtpSettings, SmtpSettingsError, WebhookSettings, deliver,
    flush_outbox, parcel_from_context, parse_destinations,
)
from narrator.errors import ConfigError

__all__ = ["DeliveryPlan", "plan_delivery", "flush", "send", "report_parcel", "delivery_ok", "config_keys"]

# The delivery package names its settings smtp.*; in narrator's config they live under [delivery.smtp].
_SMTP_KEY = re.compile(r"(?<![\w.-])smtp\.(host|port|security|username|password_env|from|subject_prefix|cafile|"
                       r"timeout)\b")


def config_keys(text: str) -> str:
    """A delivery message with its setting names as narrator's config spells them (``delivery.smtp.from``)."""
    return _SMTP_KEY.sub(lambda m: f"delivery.smtp.{m.group(1)}", text)


@dataclass(frozen=True)
class DeliveryPlan:
    destinations: tuple[Destination, ...]
    smtp: SmtpSettings | None  # None: no sender configured (stored outbox settings are used then)
    webhook: WebhookSettings
    retry: RetryPolicy
    link: str = ""
    force: bool = False


def smtp_settings(settings: Settings) -> SmtpSettings:
    mail = settings.delivery.smtp
    return SmtpSettings(host=mail.host, port=mail.port, security=mail.security, username=mail.username,
                        password_env=mail.password_env, from_addr=mail.from_addr,
                        subject_prefix=mail.subject_prefix, timeout=mail.timeout_s, cafile=mail.cafile)


def plan_delivery(values: Sequence[str], settings: Settings, *, force: bool = False,
                  env: Mapping[str, str] | None = None) -> DeliveryPlan | None:
    """The ``--to`` values parsed and the settings they need checked; None without ``--to``.

    Raises ``DestinationError`` or ``ConfigError`` (exit 2) before any work for what no retry can fix.
    """
    if not values:
        return None
    destinations = tuple(parse_destinations(values))
    delivery = settings.delivery
    if delivery.attempts < 1:
        raise ConfigError(f"delivery.attempts must be at least 1, got {delivery.attempts}")
    if delivery.backoff_s < 0 or delivery.backoff_cap_s < 0:
        raise ConfigError("delivery.backoff_s and delivery.backoff_cap_s must not be negative")
    mail = smtp_settings(settings)
    if any(d.scheme == "mailto" for d in destinations):
        try:
            mail.check()
            mail.password(env)
        except SmtpSettingsError as exc:
            raise ConfigError(f"cannot send mail: {config_keys(str(exc))}") from None
    elif not mail.from_addr.strip():
        mail = None  # type: ignore[assignment]
    return DeliveryPlan(
        destinations=destinations, smtp=mail,
        webhook=WebhookSettings(timeout=delivery.webhook.timeout_s, cafile=delivery.webhook.cafile),
        retry=RetryPolicy(attempts=delivery.attempts, base=delivery.backoff_s, cap=delivery.backoff_cap_s),
        link=delivery.link.strip(), force=force,
    )


def flush(plan: DeliveryPlan, env: Mapping[str, str] | None = None) -> list[DeliveryResult]:
    """Retry what earlier runs left in the outbox (once each), with the current settings."""
    return flush_outbox(smtp=plan.smtp, webhook=plan.webhook, env=env)


def send(plan: DeliveryPlan, parcel: Parcel, env: Mapping[str, str] | None = None) -> list[DeliveryResult]:
    return deliver(parcel, list(plan.destinations), smtp=plan.smtp, webhook=plan.webhook, retry=plan.retry,
                   force=plan.force, env=env)


def delivery_ok(results: Iterable[DeliveryResult]) -> bool:
    return all(r.ok for r in results)


def report_parcel(context: Mapping[str, Any], *, html: str, text: str, files: Sequence[Path] = (),
                  attachments: Sequence[Path] = (), link: str = "", kind: str | None = None,
                  period_key: str | None = None, shas: Iterable[str] | None = None) -> Parcel:
    """A parcel from a report's context, or a team report's (its highlights and attention items are gathered
    from every repository, each prefixed with the repository's name)."""
    if context.get("kind") == "team":
        sections = context.get("repositories") or []
        many = len(sections) > 1
        busiest = {row.get("name"): i for i, row in enumerate(context.get("work") or [])}
        ranked = sorted(sections, key=lambda s: busiest.get(s.get("name"), len(busiest)))
        per_repo: list[list[str]] = []
        attention, all_shas = [], []
        for section in ranked:
            name, report = section.get("name", ""), section.get("report") or {}
            prefix = f"{name}: " if many else ""
            per_repo.append([f"{prefix}{h.get('text', '')}" for h in report.get("highlights") or []])
            attention += [f"{prefix}{a.get('title', '')}" for a in report.get("attention") or []]
            all_shas += [c.get("sha", "") for c in report.get("commits") or []]
        # the busiest repository's best highlight first, then each other repository's best, then the second ones
        highlights = [items[i] for i in range(max(map(len, per_repo), default=0)) for items in per_repo
                      if i < len(items)]
        for problem in context.get("problems") or []:
            attention.append(f"{problem.get('name', '')} could not be read: {problem.get('reason', '')}")
        numbers = context.get("numbers") or {}
        flat = {"title": context.get("title", ""), "headline": context.get("headline", ""),
                "since": context.get("since") or "", "until": context.get("until") or "",
                "period_label": context.get("period_label", ""),
                "repositories": [{"name": s.get("name", "")} for s in sections],
                "highlights": [{"text": h} for h in highlights], "attention": [{"title": a} for a in attention],
                "numbers": {k: v for k, v in numbers.items() if isinstance(v, (int, float))}}
        return parcel_from_context(flat, html=html, text=text, files=files, attachments=attachments, kind=kind,
                                   link=link, period_key=period_key,
                                   shas=shas if shas is not None else [s for s in all_shas if s])
    return parcel_from_context(context, html=html, text=text, files=files, attachments=attachments, kind=kind,
                               link=link, period_key=period_key,
                               shas=shas if shas is not None else [c.get("sha", "") for c in
                                                                    context.get("commits") or []])
