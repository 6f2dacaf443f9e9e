"""Mail delivery over SMTP (smtplib): STARTTLS or implicit TLS, login, one multipart/alternative message.

The message has a plain-text part and the self-contained HTML report as the alternative (plus attachments,
e.g. the PDF, when given), and the headers a mail client expects (From, To, Subject, Date, Message-ID,
``Auto-Submitted: auto-generated``). The password is read at send time from the environment variable that
``SmtpSettings.password_env`` names; it is never stored, logged or put in an error (every reason is scrubbed
of it). Failures become ``SendFailure``s, transient or permanent (see ``narrator.delivery.retry``).
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import smtplib
import socket
import ssl
from dataclasses import asdict, dataclass, fields
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Mapping, Sequence

from narrator.delivery.destinations import LOCAL_HOSTS, validate_address
from narrator.delivery.model import DeliveryError, DestinationError, Parcel, clean_line
from narrator.delivery.retry import SendFailure
from narrator.errors import ConfigError

__all__ = ["SmtpSettings", "SmtpSettingsError", "build_message", "plain_summary", "send_mail"]

log = logging.getLogger(__name__)
SECURITY = ("starttls", "tls", "none")
_DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}


class SmtpSettingsError(DeliveryError, ConfigError):
    """The SMTP settings cannot work (no sender, unknown security mode, password variable missing...)."""


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server. Holds the NAME of the password's environment variable, never the password.

    ``security``: ``starttls`` (upgrade a plain connection, port 587 by default), ``tls`` (implicit TLS,
    port 465) or ``none`` (plain, port 25; a login is then refused unless the host is this machine).
    ``cafile``: a CA bundle to trust instead of the system's (for a private CA).
    """

    host: str = "localhost"
    port: int = 0                    # 0: the default port of ``security``
    security: str = "starttls"
    username: str = ""
    password_env: str = ""           # e.g. "NARRATOR_SMTP_PASSWORD"
    from_addr: str = ""              # "reports@example.com" or "Team reports <reports@example.com>"
    subject_prefix: str = "[narrator] "
    timeout: float = 30.0            # seconds for each network operation
    cafile: str = ""

    @property
    def effective_port(self) -> int:
        return int(self.port) or _DEFAULT_PORT.get(self.security, 587)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "SmtpSettings":
        """Settings from a plain mapping (a config section or a stored outbox entry); unknown keys ignored.

        Accepts ``from`` as an alias of ``from_addr``. A key named ``password`` is refused: the password
        belongs in the environment variable named by ``password_env``.
        """
        if "password" in values:
            raise SmtpSettingsError("the SMTP password must not be written in the config; put it in an "
                                    "environment variable and set smtp.password_env to its name")
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in values.items() if k in known}
        if "from" in values and "from_addr" not in data:
            data["from_addr"] = values["from"]
        if "port" in data:
            try:
                data["port"] = int(data["port"] or 0)
            except (TypeError, ValueError):
                raise SmtpSettingsError(f"smtp.port '{clean_line(data['port'], 20)}' is not a number") from None
        if "timeout" in data:
            data["timeout"] = float(data["timeout"])
        for key in ("host", "security", "username", "password_env", "from_addr", "subject_prefix", "cafile"):
            if key in data:
                data[key] = str(data[key] or "")
        return cls(**data)

    def to_mapping(self) -> dict[str, Any]:
        """Everything needed to send again (what the outbox stores): the password is not in here."""
        return asdict(self)

    def sender(self) -> tuple[str, str]:
        """(display name, address) of the sender, checked."""
        name, address = parseaddr(self.from_addr)
        if not self.from_addr.strip():
            raise SmtpSettingsError("no sender address for mail: set smtp.from (e.g. reports@example.com)")
        try:
            return clean_line(name, 80), validate_address(address or self.from_addr, "sender address (smtp.from)")
        except DestinationError as exc:
            raise SmtpSettingsError(str(exc)) from None

    def check(self) -> None:
        """Raise ``SmtpSettingsError`` when these settings cannot work, before anything is sent."""
        if self.security not in SECURITY:
            raise SmtpSettingsError(f"smtp.security '{clean_line(self.security, 20)}' is not one of "
                                    f"{', '.join(SECURITY)}")
        if not self.host.strip() or any(ch.isspace() for ch in self.host.strip()):
            raise SmtpSettingsError(f"smtp.host '{clean_line(self.host, 60)}' is not a host name")
        if not 0 < self.effective_port < 65536:
            raise SmtpSettingsError(f"smtp.port {self.port} is not a port number (1-65535)")
        self.sender()
        if self.username and not self.password_env:
            raise SmtpSettingsError("smtp.username is set but smtp.password_env names no environment variable "
                                    "holding the password")
        if self.password_env and not self.username:
            raise SmtpSettingsError("smtp.password_env is set but smtp.username is empty; set the login name")
        if self.username and self.security == "none" and self.host.lower() not in LOCAL_HOSTS:
            raise SmtpSettingsError(f"refusing to send the SMTP password unencrypted to {self.host}; set "
                                    "smtp.security to starttls or tls")

    def password(self, env: Mapping[str, str] | None = None) -> str:
        """The password from the environment ("" when no login is configured)."""
        if not self.username:
            return ""
        env = os.environ if env is None else env
        value = env.get(self.password_env, "")
        if not value:
            raise SmtpSettingsError(f"the SMTP password is missing: environment variable {self.password_env} "
                                    "(named by smtp.password_env) is not set")
        return value


# -- the message ----------------------------------------------------------------------------------------

def plain_summary(parcel: Parcel, bullet: str = "-") -> str:
    """A short plain-text summary: title, headline, highlights, what needs attention, where the rest is."""
    lines = [parcel.subject, ""]
    if parcel.headline:
        lines += [parcel.headline, ""]
    if parcel.highlights:
        lines += ["Highlights:"] + [f"{bullet} {h}" for h in parcel.highlights] + [""]
    if parcel.attention:
        lines += ["Needs attention:"] + [f"{bullet} {a}" for a in parcel.attention] + [""]
    if parcel.link:
        lines.append(f"Full report: {clean_line(parcel.link, 500)}")
    return "\n".join(lines).strip() + "\n"


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "narrator.invalid"


def build_message(parcel: Parcel, recipients: Sequence[str], settings: SmtpSettings) -> EmailMessage:
    """The complete message: text/plain + text/html alternatives (+ attachments), headers set and safe."""
    from narrator import __version__

    name, address = settings.sender()
    message = EmailMessage(policy=SMTP_POLICY)
    prefix = clean_line(settings.subject_prefix, 40)
    message["Subject"] = f"{prefix} {parcel.subject}".strip() if prefix else parcel.subject
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = ", ".join(validate_address(r, "recipient") for r in recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_domain(address))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["X-Mailer"] = f"narrator {__version__}"
    text = parcel.text.strip() or plain_summary(parcel)
    message.set_content(text.replace("\r\n", "\n") + "\n", subtype="plain", charset="utf-8")
    if parcel.html:
        message.add_alternative(parcel.html, subtype="html", charset="utf-8")
    for path in parcel.attachments:
        data = Path(path).read_bytes()
        kind = mimetypes.guess_type(Path(path).name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=Path(path).name)
    return message


# -- sending --------------------------------------------------------------------------------------------

def _ssl_context(cafile: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile or None)
    return context


def _secrets(username: str, password: str) -> list[str]:
    if not password:
        return []
    plain = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    return [password, base64.b64encode(password.encode()).decode(), plain]


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return clean_line(f"{code} {text}", 200)


def send_mail(parcel: Parcel, recipients: Sequence[str], settings: SmtpSettings,
              env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Send one message to ``recipients``; return the recipients the server refused (address -> reply).

    Raises ``SendFailure`` (transient or permanent) when nothing was sent.
    """
    where = f"{settings.host}:{settings.effective_port}"
    try:
        settings.check()
        password = settings.password(env)
        message = build_message(parcel, recipients, settings)
    except (SmtpSettingsError, DestinationError) as exc:
        raise SendFailure(str(exc), transient=False) from None
    except OSError as exc:
        raise SendFailure(f"cannot read an attachment: {exc.strerror or exc}", transient=False) from None
    secrets = _secrets(settings.username, password)
    _, envelope_from = settings.sender()
    try:
        return _converse(settings, message, envelope_from, list(recipients), password)
    except SendFailure as failure:
        failure.reason = _scrub(failure.reason, secrets)
        failure.args = (failure.reason,)
        raise
    except Exception as exc:  # classified here so that every reason is scrubbed
        raise _classify(exc, settings, where, secrets) from None


def _converse(settings: SmtpSettings, message: EmailMessage, envelope_from: str, recipients: list[str],
              password: str) -> dict[str, str]:
    context = _ssl_context(settings.cafile)
    host, port = settings.host.strip(), settings.effective_port
    if settings.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=settings.timeout)
    client.set_debuglevel(0)  # smtplib's debug output would show the AUTH exchange
    try:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise SendFailure(f"the SMTP server {host}:{port} does not offer STARTTLS; set smtp.security to "
                                  "tls (port 465) or ask for STARTTLS to be enabled", transient=False)
            client.starttls(context=context)
            client.ehlo()
        if settings.username:
            _login(client, settings.username, password, f"{host}:{port}")
        refused = client.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    log.info("mail sent through %s:%d to %d recipient(s)", host, port, len(recipients))
    return {address: _reply(code, text) for address, (code, text) in (refused or {}).items()}


def _login(client: smtplib.SMTP, username: str, password: str, where: str) -> None:
    """Log in with ONE mechanism (smtplib's ``login`` tries each in turn, so a wrong password would count
    as several failures against the account's lockout limit)."""
    offered = (client.esmtp_features.get("auth") or "").upper().split()
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        what = f"only {', '.join(offered)}" if offered else "no login (AUTH)"
        raise SendFailure(f"the SMTP server {where} offers {what}; narrator logs in with PLAIN or LOGIN "
                          "(or remove smtp.username to send without a login)", transient=False)
    client.user, client.password = username, password
    handler = client.auth_plain if mechanism == "PLAIN" else client.auth_login
    client.auth(mechanism, handler, initial_response_ok=True)


def _classify(exc: BaseException, settings: SmtpSettings, where: str, secrets: Sequence[str]) -> SendFailure:
    """One failure reason (scrubbed of the password) and whether retrying can help."""
    transient = False
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        transient = 400 <= exc.smtp_code < 500
        reason = (f"the SMTP server {where} refused the login of '{clean_line(settings.username, 60)}' "
                  f"({_reply(exc.smtp_code, exc.smtp_error)}); check smtp.username and the password in "
                  f"${settings.password_env}")
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {addr: reply for addr, reply in exc.recipients.items()}
        transient = all(400 <= code < 500 for code, _ in replies.values())
        reason = "the SMTP server refused every recipient: " + "; ".join(
            f"{addr} ({_reply(code, text)})" for addr, (code, text) in replies.items())
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        transient = 400 <= exc.smtp_code < 500
        reason = (f"the SMTP server {where} refused the sender {exc.sender} ({_reply(exc.smtp_code, exc.smtp_error)});"
                  " check smtp.from")
    elif isinstance(exc, smtplib.SMTPResponseException):
        transient = 400 <= exc.smtp_code < 500
        reason = f"the SMTP server {where} answered {_reply(exc.smtp_code, exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        transient = True
        reason = f"the SMTP server {where} closed the connection ({clean_line(exc, 120) or 'no reason given'})"
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        reason = f"the SMTP server {where} does not support what is needed ({clean_line(exc, 120)})"
    elif isinstance(exc, smtplib.SMTPException):
        reason = f"SMTP with {where} failed: {clean_line(exc, 160)}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        reason = (f"the TLS certificate of {where} is not trusted ({clean_line(exc.verify_message or exc, 120)}); "
                  "fix the server's certificate or set smtp.cafile to the CA that signed it")
    elif isinstance(exc, ssl.SSLError):
        reason = (f"TLS with {where} failed ({clean_line(exc.reason or exc, 120)}); check smtp.security "
                  "(tls for port 465, starttls for 587)")
    elif isinstance(exc, socket.gaierror):
        transient = True
        reason = f"cannot find the SMTP host {settings.host} ({clean_line(exc.strerror or exc, 80)})"
    elif isinstance(exc, (TimeoutError, socket.timeout)):
        transient = True
        reason = f"the SMTP server {where} did not answer within {settings.timeout:g} s"
    elif isinstance(exc, ConnectionRefusedError):
        transient = True
        reason = f"connection to the SMTP server {where} refused (is it running, and is smtp.port right?)"
    elif isinstance(exc, OSError):
        transient = True
        reason = f"cannot reach the SMTP server {where} ({clean_line(exc.strerror or exc, 120)})"
    else:
        reason = f"sending mail through {where} failed: {type(exc).__name__}: {clean_line(exc, 120)}"
    return SendFailure(_scrub(reason, secrets), transient=transient)
