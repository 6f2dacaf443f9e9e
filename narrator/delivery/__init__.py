"""Delivering a rendered report or digest: ``mailto:``, ``https://`` webhooks and ``file:DIR``, never lost.

Usage (the CLI does this for ``--to``)::

    destinations = parse_destinations(values)            # DestinationError (exit 2) for a bad value
    parcel = parcel_from_context(report, html=html_page, text=markdown, files=[path])
    for result in flush_outbox(smtp=settings) + deliver(parcel, destinations, smtp=settings):
        print(result.line())                             # exit non-zero unless every result.ok

Destinations (``narrator.delivery.destinations``):

- ``mailto:a@example.com[,b@example.com]``: one multipart/alternative mail (plain text + the HTML report,
  attachments such as the PDF when given) through the SMTP server of ``SmtpSettings`` (STARTTLS, implicit
  TLS or none; login with the password read from the environment variable it names).
- ``https://...``: a JSON POST (Slack-compatible ``text``, Discord ``content``, a ``narrator`` object;
  shaped for Discord and Teams webhook URLs). ``http://`` only for localhost, 127.0.0.1 and ::1.
- ``file:DIR``: the rendered files copied into the existing directory DIR, each atomically.

Failures (``narrator.delivery.retry``): transient ones (refused/reset connections, timeouts, unknown hosts,
HTTP 408/425/429/5xx, SMTP 4xx) are retried with capped exponential backoff and jitter; permanent ones
(other HTTP 4xx, SMTP 5xx such as a wrong password, TLS certificate failures) are not. What still fails is
kept in the OUTBOX (``data_dir()/outbox``, ``$NARRATOR_DATA_DIR`` overrides the data dir) with everything
needed to retry except the password, and ``flush_outbox()`` retries it at the start of the next run.

The LEDGER rule (``data_dir()/delivered.json``): a delivery is keyed by the canonical destination (sorted
lower-cased recipients, the URL, the absolute directory) and the parcel's content identity,
``kind:period:repositories:hash(sorted commit shas)`` (``content_identity``). Delivering a key that the
ledger holds is skipped, so rerunning a digest sends nothing twice; a period whose commits changed (a new
commit in the week, a rewritten history) has a new identity and is sent again, as is the same content to a
new destination. A new rendering of the same commits (another engine or template) is not re-sent unless
``force=True``.
"""

from __future__ import annotations

from narrator.delivery.destinations import parse_destination, parse_destinations, validate_address
from narrator.delivery.dispatch import deliver, discard, flush_outbox, outbox_entries
from narrator.delivery.model import (
    DeliveryError, DeliveryResult, Destination, DestinationError, Parcel, Status, content_identity,
    parcel_from_context,
)
from narrator.delivery.retry import RetryPolicy
from narrator.delivery.smtp import SmtpSettings, SmtpSettingsError
from narrator.delivery.store import data_dir
from narrator.delivery.webhook import WebhookSettings

__all__ = [
    "DeliveryError", "DeliveryResult", "Destination", "DestinationError", "Parcel", "RetryPolicy", "SmtpSettings",
    "SmtpSettingsError", "Status", "WebhookSettings", "content_identity", "data_dir", "deliver", "discard",
    "flush_outbox", "outbox_entries", "parcel_from_context", "parse_destination", "parse_destinations",
    "validate_address",
]
