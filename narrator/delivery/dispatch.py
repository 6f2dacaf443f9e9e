"""Delivering one parcel to many destinations, with retries, the ledger and the outbox; flushing the outbox.

``deliver`` returns one ``DeliveryResult`` per destination and never raises for a failed delivery: what
could not be delivered is kept in the outbox (the result says so and why). ``flush_outbox`` retries every
waiting delivery once; it is meant to run at the start of each run, before new deliveries.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from narrator.delivery.destinations import parse_destination
from narrator.delivery.files import copy_into
from narrator.delivery.model import (
    DeliveryError, DeliveryResult, Destination, DestinationError, Parcel, Status, clean_line,
)
from narrator.delivery.retry import NO_RETRY, RetryPolicy, SendFailure, with_retries
from narrator.delivery.smtp import SmtpSettings, SmtpSettingsError, send_mail
from narrator.delivery.store import Ledger, Outbox, OutboxEntry, data_dir, delivery_key, parcel_from_json, state_lock
from narrator.delivery.webhook import WebhookSettings, send_webhook

__all__ = ["deliver", "flush_outbox", "outbox_entries", "discard"]

log = logging.getLogger(__name__)


def _send(parcel: Parcel, destination: Destination, smtp: SmtpSettings | None, webhook: WebhookSettings,
          env: Mapping[str, str] | None) -> dict[str, str]:
    """One attempt; the refused mail recipients (empty for other kinds) or ``SendFailure``."""
    if destination.scheme == "mailto":
        if smtp is None:
            raise SendFailure("no SMTP settings: set smtp.host and smtp.from (and smtp.username and "
                              "smtp.password_env for a login)", transient=False)
        return send_mail(parcel, destination.recipients, smtp, env)
    if destination.scheme in ("http", "https"):
        send_webhook(parcel, destination, webhook)
        return {}
    if destination.scheme == "file":
        copy_into(parcel.files, destination.directory)
        return {}
    raise SendFailure(f"unknown destination scheme {destination.scheme}", transient=False)


def _settings_for(destination: Destination, smtp: SmtpSettings | None, webhook: WebhookSettings) -> dict[str, Any]:
    if destination.scheme == "mailto" and smtp is not None:
        return {"smtp": smtp.to_mapping()}
    if destination.scheme in ("http", "https"):
        return {"webhook": webhook.to_mapping()}
    return {}


def _failure_reason(failure: SendFailure, attempts: int) -> str:
    if failure.transient:
        return f"{failure.reason} ({attempts} attempt{'s' if attempts != 1 else ''})"
    return f"{failure.reason} (not retried: retrying cannot fix this)"


def _queue(outbox: Outbox, key: str, destination: Destination, parcel: Parcel, reason: str, attempts: int,
           transient: bool, settings: Mapping[str, Any]) -> DeliveryResult:
    try:
        path = outbox.put(key, destination, parcel, reason, attempts, transient, settings)
    except DeliveryError as exc:
        return DeliveryResult(destination.display, Status.FAILED, f"{reason}; {exc}", attempts)
    return DeliveryResult(destination.display, Status.QUEUED, reason, attempts, str(path))


def deliver(parcel: Parcel, targets: Sequence[str | Destination], *, smtp: SmtpSettings | None = None,
            webhook: WebhookSettings | None = None, retry: RetryPolicy | None = None,
            root: Path | None = None, force: bool = False, env: Mapping[str, str] | None = None,
            sleep: Callable[[float], None] = time.sleep,
            rng: Callable[[], float] = random.random) -> list[DeliveryResult]:
    """Deliver ``parcel`` to every target (``--to`` strings or parsed ``Destination``s); one result each.

    A target whose ledger entry says this content already arrived is skipped (unless ``force``); a failed
    one is retried per ``retry`` (transient failures only) and then kept in the outbox under ``root``
    (default: ``data_dir()``). An invalid target string gives a ``rejected`` result; nothing raises.
    """
    root = root or data_dir()
    webhook = webhook or WebhookSettings()
    policy = retry or RetryPolicy()
    ledger, outbox = Ledger(root), Outbox(root)
    results: list[DeliveryResult] = []
    for target in targets:
        try:
            destination = target if isinstance(target, Destination) else parse_destination(target)
        except DestinationError as exc:
            results.append(DeliveryResult(clean_line(target, 80), Status.REJECTED, str(exc)))
            continue
        results.extend(_deliver_one(parcel, destination, ledger, outbox, root, smtp, webhook, policy, force, env,
                                    sleep, rng))
    return results


def _deliver_one(parcel: Parcel, destination: Destination, ledger: Ledger, outbox: Outbox, root: Path,
                 smtp: SmtpSettings | None, webhook: WebhookSettings, policy: RetryPolicy, force: bool,
                 env: Mapping[str, str] | None, sleep: Callable[[float], None],
                 rng: Callable[[], float]) -> list[DeliveryResult]:
    key = delivery_key(destination, parcel.identity)
    settings = _settings_for(destination, smtp, webhook)
    try:
        with state_lock(root):
            done = None if force else ledger.get(key)
            if done is not None:
                outbox.remove(key)  # delivered by an earlier run: nothing is waiting any more
                return [DeliveryResult(destination.display, Status.SKIPPED,
                                       f"this content was already delivered there on {done.get('at', '?')}")]
            try:
                refused, attempts = with_retries(lambda: _send(parcel, destination, smtp, webhook, env), policy,
                                                 what=destination.display, sleep=sleep, rng=rng)
            except SendFailure as failure:
                attempts = getattr(failure, "attempts", 1)
                log.warning("delivery to %s failed: %s", destination.display, failure.reason)
                return [_queue(outbox, key, destination, parcel, _failure_reason(failure, attempts), attempts,
                               failure.transient, settings)]
            outbox.remove(key)
            try:
                ledger.record(key, destination, parcel)
                note = ""
            except DeliveryError as exc:  # it did arrive; only the memory of it is missing
                note = str(exc)
            results = [DeliveryResult(destination.display, Status.DELIVERED, note, attempts)]
            if refused:
                results.append(_refused(parcel, destination, refused, ledger, outbox, settings))
            return results
    except DeliveryError as exc:  # the ledger or lock could not be used
        return [DeliveryResult(destination.display, Status.FAILED, str(exc))]


def _refused(parcel: Parcel, destination: Destination, refused: Mapping[str, str], ledger: Ledger, outbox: Outbox,
             settings: Mapping[str, Any]) -> DeliveryResult:
    """Some recipients were refused while others got the mail: only those wait in the outbox."""
    rest = tuple(sorted(refused, key=str.lower))
    partial = Destination(scheme="mailto", uri="mailto:" + ",".join(rest), recipients=rest)
    reason = "the SMTP server refused " + "; ".join(f"{a} ({refused[a]})" for a in rest)
    return _queue(outbox, delivery_key(partial, parcel.identity), partial, parcel, reason, 1,
                  all(refused[a][:1] == "4" for a in rest), settings)


def flush_outbox(*, smtp: SmtpSettings | None = None, webhook: WebhookSettings | None = None,
                 retry: RetryPolicy | None = None, root: Path | None = None, env: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> list[DeliveryResult]:
    """Retry every waiting delivery (once by default), oldest first; one result per entry.

    The settings given here (the current config) win over those stored with an entry, so a fixed host or
    login takes effect; without them the stored ones are used. After a failure, later entries for the same
    destination are not tried in this run (the host is down: no point hammering it). Delivered entries
    leave the outbox and enter the ledger; the others stay, with their attempt count and last error.
    """
    root = root or data_dir()
    policy = retry or NO_RETRY
    ledger, outbox = Ledger(root), Outbox(root)
    results: list[DeliveryResult] = []
    failed: set[str] = set()
    for entry in outbox.entries():
        results.append(_flush_one(entry, ledger, outbox, root, smtp, webhook, policy, env, sleep, rng, failed))
    return results


def _flush_one(entry: OutboxEntry, ledger: Ledger, outbox: Outbox, root: Path, smtp: SmtpSettings | None,
               webhook: WebhookSettings | None, policy: RetryPolicy, env: Mapping[str, str] | None,
               sleep: Callable[[float], None], rng: Callable[[], float], failed: set[str]) -> DeliveryResult:
    shown = str(entry.data.get("shown") or entry.destination)
    try:
        destination = parse_destination(entry.destination)
    except DestinationError as exc:
        return DeliveryResult(shown, Status.FAILED, f"the waiting delivery {entry.path} names an invalid "
                              f"destination ({exc}); remove the file")
    stored = entry.data.get("settings") or {}
    try:
        mail = smtp or (SmtpSettings.from_mapping(stored["smtp"]) if "smtp" in stored else None)
    except SmtpSettingsError as exc:
        mail = None
        log.warning("stored SMTP settings unusable: %s", exc)
    hook = webhook or WebhookSettings.from_mapping(stored.get("webhook") or {})
    if destination.uri in failed:
        return DeliveryResult(destination.display, Status.QUEUED, "not tried again in this run: an earlier "
                              f"delivery to it just failed ({entry.last_error})", 0, str(entry.path))
    scratch = Path(tempfile.mkdtemp(prefix="narrator-outbox-"))
    try:
        try:
            parcel = parcel_from_json(entry.data["parcel"], scratch)
        except (KeyError, TypeError, ValueError, OSError) as exc:
            return DeliveryResult(destination.display, Status.FAILED,
                                  f"the waiting delivery {entry.path} cannot be read ({clean_line(exc, 80)}); "
                                  "remove the file")
        key = entry.key
        with state_lock(root):
            if ledger.get(key) is not None:
                outbox.remove(key)
                return DeliveryResult(destination.display, Status.SKIPPED, "it was delivered by another run")
            try:
                refused, attempts = with_retries(lambda: _send(parcel, destination, mail, hook, env), policy,
                                                 what=destination.display, sleep=sleep, rng=rng)
            except SendFailure as failure:
                failed.add(destination.uri)
                attempts = getattr(failure, "attempts", 1)
                reason = _failure_reason(failure, attempts)
                outbox.bump(entry, reason, failure.transient)
                return DeliveryResult(destination.display, Status.QUEUED,
                                      f"{reason}; waiting since {entry.created_at}, {entry.attempts} attempts so far",
                                      attempts, str(entry.path))
            ledger.record(key, destination, parcel)
            outbox.remove(key)
            settings = _settings_for(destination, mail, hook)
            if refused:
                _refused(parcel, destination, refused, ledger, outbox, settings)
            return DeliveryResult(destination.display, Status.DELIVERED,
                                  f"from the outbox, waiting since {entry.created_at}", attempts)
    except DeliveryError as exc:
        return DeliveryResult(destination.display, Status.FAILED, str(exc))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def outbox_entries(root: Path | None = None) -> list[OutboxEntry]:
    """The deliveries waiting in the outbox, oldest first (for ``narrate outbox`` style listings)."""
    return Outbox(root or data_dir()).entries()


def discard(key: str, root: Path | None = None) -> bool:
    """Remove one waiting delivery by its key (the outbox file's name without ``.json``)."""
    return Outbox(root or data_dir()).remove(key)
