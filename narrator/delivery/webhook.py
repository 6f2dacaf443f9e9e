"""Webhook delivery: one JSON POST (urllib, no extra dependency) with a hard per-request deadline.

The body is Slack-compatible (``text``: a short plain-text summary; Mattermost and Rocket.Chat read it
too) plus ``content`` (what Discord reads) and a structured ``narrator`` object for your own tools
(``schema_version``, kind, title, repositories, period, headline, highlights, attention, numbers, files,
link, identity). Discord webhook URLs (discord.com/api/webhooks/...) get ``content`` only, with mentions
switched off; Microsoft Teams connector URLs (*.webhook.office.com) get a MessageCard. Commit text is
untrusted: Slack's ``<``, ``>``, ``&`` are escaped (so no ``<!channel>`` or link can be forged), Discord
mentions are disabled, and control characters are removed everywhere.

Redirects are not followed (a POST must not silently become a GET elsewhere); 2xx is delivered; 408, 425,
429 and 5xx are transient (``Retry-After`` honoured); any other answer is permanent.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from narrator.delivery.model import PAYLOAD_SCHEMA_VERSION, Destination, Parcel, clean_line
from narrator.delivery.retry import SendFailure

__all__ = ["WebhookSettings", "build_body", "post_json", "send_webhook", "summary_text"]

log = logging.getLogger(__name__)
TRANSIENT_STATUS = {408, 425, 429}
_MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class WebhookSettings:
    timeout: float = 15.0     # seconds for the whole request: connect, send, answer
    cafile: str = ""          # a CA bundle to trust instead of the system's

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "WebhookSettings":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in values.items() if k in known}
        if "timeout" in data:
            data["timeout"] = float(data["timeout"])
        if "cafile" in data:
            data["cafile"] = str(data["cafile"] or "")
        return cls(**data)

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)


# -- the body -------------------------------------------------------------------------------------------

def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _where(parcel: Parcel) -> str:
    if parcel.link:
        return clean_line(parcel.link, 500)
    if parcel.files:
        return ", ".join(str(p) for p in parcel.files)
    return ""


def summary_text(parcel: Parcel, limit: int = 3000) -> str:
    """Headline, top highlights, what needs attention and where the full report is, as plain text."""
    lines = [parcel.subject]
    if parcel.headline:
        lines.append(parcel.headline)
    for item in parcel.highlights[:3]:
        lines.append(f"• {item}")
    if parcel.attention:
        lines.append("Needs attention: " + "; ".join(parcel.attention[:3]) +
                     (f" (+{len(parcel.attention) - 3} more)" if len(parcel.attention) > 3 else ""))
    where = _where(parcel)
    if where:
        lines.append(f"Full report: {where}")
    text = "\n".join(clean_line(line) for line in lines)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def structured(parcel: Parcel) -> dict[str, Any]:
    """The ``narrator`` object of every generic webhook body (documented, versioned)."""
    return {
        "schema_version": PAYLOAD_SCHEMA_VERSION,
        "kind": parcel.kind,
        "title": parcel.subject,
        "repositories": list(parcel.repositories),
        "period": {"since": parcel.since, "until": parcel.until, "label": parcel.period_label},
        "headline": parcel.headline,
        "highlights": list(parcel.highlights),
        "attention": list(parcel.attention),
        "numbers": dict(parcel.numbers),
        "files": [p.name for p in parcel.files],
        "link": parcel.link,
        "identity": parcel.identity,
    }


def build_body(parcel: Parcel, destination: Destination) -> dict[str, Any]:
    """The JSON body for ``destination`` (shaped for Discord or Teams when the URL is theirs)."""
    plain = summary_text(parcel)
    if destination.flavour == "discord":
        return {"content": summary_text(parcel, 2000), "username": "narrator", "allowed_mentions": {"parse": []}}
    if destination.flavour == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": parcel.subject, "title": parcel.subject,
                "text": _slack(plain.split("\n", 1)[1] if "\n" in plain else plain).replace("\n", "\n\n")}
    return {"text": _slack(plain), "content": plain, "narrator": structured(parcel)}


# -- sending --------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None  # the 3xx answer then surfaces as an HTTPError


def _opener(cafile: str) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=cafile or None)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _post(url: str, data: bytes, settings: WebhookSettings) -> tuple[int, str]:
    from narrator import __version__

    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"narrator/{__version__}"})
    with _opener(settings.cafile).open(request, timeout=settings.timeout) as answer:
        return answer.status, answer.read(_MAX_ANSWER).decode("utf-8", "replace")


def post_json(url: str, body: Mapping[str, Any], settings: WebhookSettings, shown: str = "") -> tuple[int, str]:
    """POST ``body`` as JSON to ``url`` within ``settings.timeout`` seconds in all; ``(status, answer text)``.

    Raises ``SendFailure``: transient for timeouts, refused or reset connections, unknown hosts,
    408/425/429/5xx; permanent for TLS failures, redirects and every other non-2xx answer.
    """
    shown = shown or url
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["ok"] = _post(url, data, settings)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    # urllib's timeout bounds each socket operation, not the whole request (a server may trickle its
    # answer); the worker thread gives the request a real deadline.
    worker = threading.Thread(target=run, name="narrator-webhook", daemon=True)
    worker.start()
    worker.join(settings.timeout)
    if worker.is_alive():
        raise SendFailure(f"{shown} did not answer within {settings.timeout:g} s", transient=True)
    if "ok" in outcome:
        return outcome["ok"]
    raise _classify(outcome["error"], shown, settings)


def _classify(exc: BaseException, shown: str, settings: WebhookSettings) -> SendFailure:
    if isinstance(exc, urllib.error.HTTPError):
        status = exc.code
        try:
            answer = clean_line(exc.read(2048).decode("utf-8", "replace"), 120)
        except Exception:
            answer = ""
        said = f"{status} {clean_line(exc.reason, 60)}".strip() + (f": {answer}" if answer else "")
        if 300 <= status < 400:
            return SendFailure(f"{shown} answered a redirect ({said}); give the final URL", transient=False)
        if status in TRANSIENT_STATUS or status >= 500:
            return SendFailure(f"{shown} answered {said}", transient=True, retry_after=_retry_after(exc.headers))
        return SendFailure(f"{shown} answered {said}; check the webhook URL", transient=False)
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return SendFailure(f"the TLS certificate of {shown} is not trusted "
                           f"({clean_line(reason.verify_message or reason, 120)})", transient=False)
    if isinstance(reason, ssl.SSLError):
        return SendFailure(f"TLS with {shown} failed ({clean_line(reason.reason or reason, 120)})", transient=False)
    if isinstance(reason, socket.gaierror):
        return SendFailure(f"cannot find the host of {shown} ({clean_line(reason.strerror or reason, 80)})",
                           transient=True)
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return SendFailure(f"{shown} did not answer within {settings.timeout:g} s", transient=True)
    if isinstance(reason, ConnectionRefusedError):
        return SendFailure(f"connection to {shown} refused", transient=True)
    if isinstance(reason, OSError):
        return SendFailure(f"cannot reach {shown} ({clean_line(reason.strerror or reason, 120)})", transient=True)
    if isinstance(exc, (ValueError, urllib.error.URLError)):
        return SendFailure(f"cannot post to {shown}: {clean_line(reason, 120)}", transient=False)
    return SendFailure(f"posting to {shown} failed: {type(exc).__name__}: {clean_line(exc, 120)}", transient=False)


def send_webhook(parcel: Parcel, destination: Destination, settings: WebhookSettings) -> int:
    """POST the parcel's body to the destination's URL; the HTTP status on success, ``SendFailure`` otherwise."""
    status, _ = post_json(destination.url, build_body(parcel, destination), settings, destination.display)
    log.info("webhook %s answered %d", destination.display, status)
    return status
