"""Delivery against real local servers: an aiosmtpd SMTP server (STARTTLS, AUTH) and http.server webhooks.

Certificates are made here (a throw-away CA trusted by these tests only, and a rogue self-signed one);
servers listen on 127.0.0.1 only; nothing leaves the machine. The report delivered is a real one, rendered
by ``narrate report`` from a throw-away repository with hostile commit text.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import BASE_DATE, GitRepo, run_narrate
from narrator.delivery import (
    DeliveryError, DestinationError, Parcel, RetryPolicy, SmtpSettings, SmtpSettingsError, Status,
    WebhookSettings, content_identity, deliver, discard, flush_outbox, outbox_entries, parcel_from_context,
    parse_destination, parse_destinations,
)
from narrator.delivery.retry import SendFailure, with_retries
from narrator.delivery.smtp import build_message
from narrator.delivery.webhook import build_body
from narrator.errors import NarratorError, UsageError

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
x509 = pytest.importorskip("cryptography.x509")

from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

PASSWORD = "Pa55-" + os.urandom(6).hex() + "-w0rd"
WRONG = "not-the-" + os.urandom(4).hex()
USER = "reports"
PASSWORD_ENV = "NARRATOR_TEST_SMTP_PASSWORD"
HOSTILE = "<script>alert(1)</script> <!channel> @everyone {{ 7*7 }} \x1b[31mred\x1b[0m"
FAST = RetryPolicy(attempts=3, base=0.01, factor=2.0, cap=0.05, jitter=0.5)


# -- certificates -------------------------------------------------------------------------------------------

def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject_key, issuer_key, subject: str, issuer: str, ca: bool, sans=()) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        import ipaddress

        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(a)) for a in sans]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert, key) -> tuple[bytes, bytes]:
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A test CA and a server certificate it signed for 127.0.0.1; a rogue self-signed one."""
    out = tmp_path_factory.mktemp("certs")
    ca_key, leaf_key, rogue_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert(ca_key, ca_key, "narrator test CA", "narrator test CA", ca=True)
    leaf = _cert(leaf_key, ca_key, "127.0.0.1", "narrator test CA", ca=False, sans=("127.0.0.1",))
    rogue = _cert(rogue_key, rogue_key, "127.0.0.1", "127.0.0.1", ca=False, sans=("127.0.0.1",))
    (out / "ca.pem").write_bytes(_pem(ca, ca_key)[0])
    for name, cert, key in (("server", leaf, leaf_key), ("rogue", rogue, rogue_key)):
        pem, key_pem = _pem(cert, key)
        (out / f"{name}.pem").write_bytes(pem)
        (out / f"{name}.key").write_bytes(key_pem)
    return {"ca": out / "ca.pem", "server": out / "server.pem", "server_key": out / "server.key",
            "rogue": out / "rogue.pem", "rogue_key": out / "rogue.key"}


def _server_context(certs: dict[str, Path], name: str = "server") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs[name], certs[f"{name}_key"])
    return context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a real SMTP server ---------------------------------------------------------------------------------------

class Mailbox:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[tuple[str, bool]] = []
        self.refuse = refuse or set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
            auth_data.password == PASSWORD.encode()
        self.logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


def start_smtp(certs, mailbox: Mailbox, port: int | None = None, implicit: bool = False):
    port = port or free_port()
    kwargs: dict[str, Any] = dict(hostname="127.0.0.1", port=port, authenticator=mailbox.authenticate,
                                  auth_required=True, auth_require_tls=True)
    if implicit:  # aiosmtpd does not count implicit TLS as TLS for auth_require_tls; it is TLS all along
        kwargs.update(ssl_context=_server_context(certs), auth_require_tls=False)
    else:
        kwargs.update(tls_context=_server_context(certs), require_starttls=True)
    controller = aiosmtpd_controller.Controller(mailbox, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def smtp_server(certs):
    mailbox = Mailbox()
    controller, port = start_smtp(certs, mailbox)
    yield mailbox, port
    controller.stop()


def smtp_settings(certs, port: int, **changes) -> SmtpSettings:
    base = SmtpSettings(host="127.0.0.1", port=port, security="starttls", username=USER, password_env=PASSWORD_ENV,
                        from_addr="Team reports <reports@example.com>", subject_prefix="[narrator]", timeout=5,
                        cafile=str(certs["ca"]))
    return replace(base, **changes)


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    """The delivery data dir of this test (outbox + ledger) and the password in the environment."""
    root = tmp_path / "narrator-data"
    monkeypatch.setenv("NARRATOR_DATA_DIR", str(root))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return root


def no_sleep(record: list[float] | None = None):
    def sleep(seconds: float) -> None:
        if record is not None:
            record.append(seconds)
    return sleep


# -- a real report to deliver ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Any]:
    """A real report (md, html, json context) of a throw-away repository whose commits carry hostile text."""
    base = tmp_path_factory.mktemp("rendered")
    env = {"NARRATOR_CACHE_DIR": str(base / "cache"), "NARRATOR_CONFIG_FILE": str(base / "none.toml"),
           "GIT_CONFIG_GLOBAL": str(base / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        repo = GitRepo(base / "shop")
        repo.commit("feat: add export to spreadsheet", {"src/export.py": "def export():\n    return 1\n"},
                    when=BASE_DATE + dt.timedelta(hours=1))
        repo.commit(f"fix: basket crash {HOSTILE}", {"src/basket.py": "x = 1\n"}, when=BASE_DATE + dt.timedelta(days=1))
        repo.commit("docs: explain the export", {"docs/export.md": "# Export\n"}, when=BASE_DATE + dt.timedelta(days=2))
        window = ("--since", "2026-11-01", "--until", "2026-11-08")
        out = {}
        for fmt in ("md", "html", "json"):
            path = base / f"report.{fmt}"
            proc = run_narrate("report", "--repo", str(repo.path), *window, "-o", str(path), env=env)
            assert proc.returncode == 0, proc.stderr
            out[fmt] = path
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    context = json.loads(out["json"].read_text(encoding="utf-8"))
    return {"context": context, "html": out["html"].read_text(encoding="utf-8"),
            "md": out["md"].read_text(encoding="utf-8"), "html_path": out["html"], "md_path": out["md"]}


@pytest.fixture
def parcel(rendered) -> Parcel:
    return parcel_from_context(rendered["context"], html=rendered["html"], text=rendered["md"],
                               files=[rendered["html_path"], rendered["md_path"]])


def secret_forms() -> list[str]:
    return [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
            base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]


def assert_no_secret(root: Path, *texts: str) -> None:
    for path in root.rglob("*") if root.exists() else []:
        if path.is_file():
            raw = path.read_bytes()
            for form in secret_forms():
                assert form.encode() not in raw, f"password found in {path}"
    for text in texts:
        for form in secret_forms():
            assert form not in text


# == destinations ==============================================================================================

@pytest.mark.parametrize("value, message", [
    ("mailto:someone", "has no '@domain'"),
    ("mailto:a@b", "not a valid domain"),
    ("mailto:a@b.example%0d%0aBcc:evil@x.example", "only a plain address"),
    ("mailto:\"Boss\" <boss@example.com>", "only a plain address"),
    ("mailto:a@b.example?subject=hi", "query parts"),
    ("mailto:", "names no address"),
    ("team@example.com", "for e-mail write mailto:team@example.com"),
    ("ftp://example.com/x", "unknown destination"),
    ("slack", "give a scheme"),
    ("http://example.com/hook", "refusing plain http://"),
    ("https://", "has no host"),
    ("https://user:pw@example.com/hook", "passwords in the URL"),
    ("https://example.com:99999/hook", "invalid webhook URL"),
    ("file:", "names no directory"),
])
def test_invalid_destination_is_one_clear_usage_line(value, message):
    with pytest.raises(DestinationError) as caught:
        parse_destination(value)
    text = str(caught.value)
    assert message in text and "\n" not in text and "\r" not in text
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, NarratorError)
    assert caught.value.exit_code == 2


def test_destinations_are_canonical():
    mail = parse_destination("mailto:b@example.com,A@Example.com,b@example.com")
    assert mail.recipients == ("A@Example.com", "b@example.com")
    assert parse_destination("http://127.0.0.1:8080/hook").scheme == "http"
    assert parse_destination("http://[::1]:8080/hook").url == "http://[::1]:8080/hook"
    assert parse_destination("http://localhost/hook").flavour == "slack"
    assert parse_destination("https://discord.com/api/webhooks/1/tok").flavour == "discord"
    assert parse_destination("https://acme.webhook.office.com/webhookb2/x/IncomingWebhook/y").flavour == "teams"
    hook = parse_destination("https://hooks.slack.com/services/T000/B000/SECRET")
    assert "SECRET" not in hook.display and hook.display.startswith("https://hooks.slack.com/")
    assert parse_destination("file:///tmp/reports").directory == "/tmp/reports"
    assert len(parse_destinations(["mailto:a@example.com", "mailto:A@example.com", "file:/tmp"])) == 2


def test_unknown_scheme_is_rejected_and_nothing_is_queued(parcel, data):
    results = deliver(parcel, ["smtp://mail.example.com", "mailto:not-an-address"], retry=FAST)
    assert [r.status for r in results] == [Status.REJECTED, Status.REJECTED]
    assert "unknown destination" in results[0].line() and "has no '@domain'" in results[1].line()
    assert not any(r.ok for r in results)
    assert outbox_entries() == []


# == mail ======================================================================================================

def test_mail_arrives_over_starttls_with_login(parcel, data, smtp_server, certs, caplog):
    mailbox, port = smtp_server
    caplog.set_level(logging.DEBUG)
    results = deliver(parcel, ["mailto:alice@example.com,bob@example.org"], smtp=smtp_settings(certs, port),
                      retry=FAST)
    assert [r.status for r in results] == [Status.DELIVERED], results[0].line()
    assert results[0].line() == "delivered to mailto:alice@example.com,bob@example.org"
    assert mailbox.logins and all(ok for _, ok in mailbox.logins)
    (mail_from, rcpts, message), = mailbox.messages
    assert mail_from == "reports@example.com" and sorted(rcpts) == ["alice@example.com", "bob@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    title = parcel.title
    assert message["Subject"].startswith("[narrator] ") and title in message["Subject"]
    assert parcel.period_label and parcel.period_label in " ".join(message["Subject"].split())
    assert message["From"] == "Team reports <reports@example.com>"
    assert message["To"] == "alice@example.com, bob@example.org"
    assert message["Date"] and email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert plain == parcel.text.replace("\r\n", "\n").strip() + "\n" and "Highlights" in plain
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and parcel.headline in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html  # commit text stays inert
    assert_no_secret(data, caplog.text, *(r.line() for r in results))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_mail_over_implicit_tls(parcel, data, certs):
    mailbox = Mailbox()
    controller, port = start_smtp(certs, mailbox, implicit=True)
    try:
        results = deliver(parcel, ["mailto:alice@example.com"], smtp=smtp_settings(certs, port, security="tls"))
    finally:
        controller.stop()
    assert results[0].status is Status.DELIVERED, results[0].line()
    assert len(mailbox.messages) == 1


def test_message_with_pdf_attachment_is_mixed(parcel, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7\n% fake for the header test\n")
    message = build_message(replace(parcel, attachments=(pdf,)), ["a@example.com"],
                            SmtpSettings(from_addr="r@example.com"))
    assert message.get_content_type() == "multipart/mixed"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["multipart/alternative", "application/pdf"]


def test_wrong_password_is_queued_once_with_a_clear_reason(parcel, data, smtp_server, certs, monkeypatch, caplog):
    mailbox, port = smtp_server
    monkeypatch.setenv(PASSWORD_ENV, WRONG)
    caplog.set_level(logging.DEBUG)
    waits: list[float] = []
    results = deliver(parcel, ["mailto:alice@example.com"], smtp=smtp_settings(certs, port), retry=FAST,
                      sleep=no_sleep(waits))
    result, = results
    assert result.status is Status.QUEUED and result.attempts == 1 and waits == []  # not retried
    assert "refused the login of 'reports'" in result.reason and "535" in result.reason
    assert f"${PASSWORD_ENV}" in result.reason and "not retried" in result.reason
    assert "\n" not in result.line() and "retried on the next run" in result.line()
    assert mailbox.logins == [("PLAIN", False)] and mailbox.messages == []  # one try, one mechanism
    entry, = outbox_entries()
    assert entry.destination == "mailto:alice@example.com" and entry.attempts == 1
    stored = json.loads(Path(result.outbox_entry).read_text(encoding="utf-8"))
    assert stored["settings"]["smtp"]["password_env"] == PASSWORD_ENV and "password" not in stored["settings"]["smtp"]
    for form in [WRONG, base64.b64encode(WRONG.encode()).decode()]:
        assert form not in Path(result.outbox_entry).read_text() and form not in caplog.text
    assert_no_secret(data, caplog.text, result.line())

    # Fixed on the next run: the outbox is flushed with the current settings, then the ledger holds it.
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    flushed = flush_outbox(smtp=smtp_settings(certs, port))
    assert [r.status for r in flushed] == [Status.DELIVERED] and len(mailbox.messages) == 1
    assert outbox_entries() == []
    again = deliver(parcel, ["mailto:alice@example.com"], smtp=smtp_settings(certs, port))
    assert again[0].status is Status.SKIPPED and "already delivered" in again[0].line()
    assert len(mailbox.messages) == 1


def test_missing_password_variable_is_queued_not_lost(parcel, data, smtp_server, certs, monkeypatch):
    _, port = smtp_server
    monkeypatch.delenv(PASSWORD_ENV)
    result, = deliver(parcel, ["mailto:alice@example.com"], smtp=smtp_settings(certs, port), retry=FAST)
    assert result.status is Status.QUEUED and f"environment variable {PASSWORD_ENV}" in result.reason


def test_unreachable_smtp_is_retried_with_backoff_then_queued_then_flushed(parcel, data, certs):
    port = free_port()  # nothing listens there yet
    waits: list[float] = []
    settings = smtp_settings(certs, port)
    result, = deliver(parcel, ["mailto:alice@example.com"], smtp=settings,
                      retry=RetryPolicy(attempts=3, base=0.5, factor=2, cap=0.75, jitter=0.5),
                      sleep=no_sleep(waits), rng=lambda: 0.0)
    assert result.status is Status.QUEUED and result.attempts == 3
    assert waits == [0.5, 0.75]  # exponential, capped (rng 0: no jitter)
    assert f"127.0.0.1:{port} refused" in result.reason and "(3 attempts)" in result.reason
    entry, = outbox_entries()
    assert entry.attempts == 3

    # Next run, still down: tried once, kept, attempts counted.
    again, = flush_outbox()
    assert again.status is Status.QUEUED and outbox_entries()[0].attempts == 4

    # The server is up on the stored host and port: the stored settings (no password in them) are enough.
    mailbox = Mailbox()
    controller, _ = start_smtp(certs, mailbox, port=port)
    try:
        flushed, = flush_outbox()
    finally:
        controller.stop()
    assert flushed.status is Status.DELIVERED, flushed.line()
    (_, rcpts, message), = mailbox.messages
    assert rcpts == ["alice@example.com"] and parcel.headline in message.get_body(("html",)).get_content()
    assert outbox_entries() == []
    assert_no_secret(data)


def test_untrusted_smtp_certificate_is_a_clear_permanent_failure(parcel, data, smtp_server, certs):
    mailbox, port = smtp_server
    result, = deliver(parcel, ["mailto:alice@example.com"], smtp=smtp_settings(certs, port, cafile=""),
                      retry=FAST, sleep=no_sleep())
    assert result.status is Status.QUEUED and result.attempts == 1
    assert f"TLS certificate of 127.0.0.1:{port} is not trusted" in result.reason and "smtp.cafile" in result.reason
    assert mailbox.messages == [] and mailbox.logins == []  # the password was never sent


def test_partly_refused_recipients_wait_alone(parcel, data, certs):
    mailbox = Mailbox(refuse={"ghost@example.com"})
    controller, port = start_smtp(certs, mailbox)
    try:
        results = deliver(parcel, ["mailto:alice@example.com,ghost@example.com"], smtp=smtp_settings(certs, port))
    finally:
        controller.stop()
    assert [r.status for r in results] == [Status.DELIVERED, Status.QUEUED]
    assert results[1].destination == "mailto:ghost@example.com" and "550" in results[1].reason
    assert mailbox.messages[0][1] == ["alice@example.com"]
    assert [e.destination for e in outbox_entries()] == ["mailto:ghost@example.com"]


@pytest.mark.parametrize("changes, message", [
    (dict(from_addr=""), "no sender address"),
    (dict(from_addr="not an address"), "sender address"),
    (dict(security="ssl"), "is not one of starttls, tls, none"),
    (dict(password_env=""), "names no environment variable"),
    (dict(security="none", host="mail.example.com"), "refusing to send the SMTP password unencrypted"),
])
def test_smtp_settings_are_checked(certs, changes, message):
    with pytest.raises(SmtpSettingsError, match=message):
        smtp_settings(certs, 587, **changes).check()


def test_smtp_settings_never_take_a_password():
    with pytest.raises(SmtpSettingsError, match="password_env"):
        SmtpSettings.from_mapping({"host": "mail.example.com", "password": PASSWORD})
    settings = SmtpSettings.from_mapping({"host": "mail.example.com", "port": "465", "security": "tls",
                                          "from": "r@example.com", "unknown": 1})
    assert settings.effective_port == 465 and settings.from_addr == "r@example.com"
    assert "password" not in settings.to_mapping()


# == webhooks ==================================================================================================

class Hook(BaseHTTPRequestHandler):
    """POST /ok -> 200; /flaky -> 500 then 200; /missing -> 404; /slow -> 2 s; /limited -> 429 then 200;
    /moved -> 302."""

    def do_POST(self):  # noqa: N802
        server = self.server
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length).decode("utf-8"))
        server.calls.append((self.path, body, dict(self.headers)))
        count = sum(1 for p, _, _ in server.calls if p == self.path)
        status, headers = 200, {}
        if self.path == "/flaky" and count == 1:
            status = 500
        elif self.path == "/missing":
            status = 404
        elif self.path == "/slow":
            time.sleep(2.0)
        elif self.path == "/limited" and count == 1:
            status, headers = 429, {"Retry-After": "0"}
        elif self.path == "/moved":
            status, headers = 302, {"Location": "http://127.0.0.1:1/elsewhere"}
        payload = b"ok" if status == 200 else b"no"
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):  # keep test output clean
        pass


def start_http(context: ssl.SSLContext | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.daemon_threads = True
    server.calls = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server


@pytest.fixture
def hook_server():
    server = start_http()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_webhook_200_posts_slack_text_and_structured_payload(parcel, data, hook_server):
    server, base = hook_server
    result, = deliver(parcel, [f"{base}/ok"], retry=FAST)
    assert result.status is Status.DELIVERED and result.attempts == 1
    (path, body, headers), = server.calls
    assert headers["Content-Type"].startswith("application/json") and headers["User-Agent"].startswith("narrator/")
    assert parcel.headline.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in body["text"]
    assert body["content"].startswith(parcel.subject) and parcel.headline in body["content"]
    assert "Full report: " in body["text"] and "report.html" in body["text"]
    info = body["narrator"]
    assert info["schema_version"] == 1 and info["kind"] == "report" and info["repositories"] == ["shop"]
    assert info["period"]["since"].startswith("2026-11-01") and info["headline"] == parcel.headline
    assert info["highlights"] == list(parcel.highlights) and info["numbers"]["work_commits"] == 3
    assert info["files"] == ["report.html", "report.md"] and info["identity"] == parcel.identity
    # Hostile commit text cannot forge Slack mentions or links, nor carry terminal escapes.
    hostile_text = json.dumps(body)
    assert "<!channel>" not in body["text"] and "\\u001b" not in hostile_text and "\x1b" not in hostile_text


def test_webhook_500_then_200_is_retried(parcel, data, hook_server):
    server, base = hook_server
    waits: list[float] = []
    result, = deliver(parcel, [f"{base}/flaky"], retry=FAST, sleep=no_sleep(waits))
    assert result.status is Status.DELIVERED and result.attempts == 2 and len(waits) == 1
    assert result.line().endswith("(after 2 attempts)")
    assert [p for p, _, _ in server.calls] == ["/flaky", "/flaky"]


def test_webhook_429_honours_retry_after(parcel, data, hook_server):
    server, base = hook_server
    waits: list[float] = []
    result, = deliver(parcel, [f"{base}/limited"], retry=FAST, sleep=no_sleep(waits))
    assert result.status is Status.DELIVERED and waits == [0.0]


def test_webhook_404_is_permanent_and_queued(parcel, data, hook_server):
    server, base = hook_server
    waits: list[float] = []
    result, = deliver(parcel, [f"{base}/missing"], retry=FAST, sleep=no_sleep(waits))
    assert result.status is Status.QUEUED and result.attempts == 1 and waits == []
    assert "answered 404 Not Found" in result.reason and "check the webhook URL" in result.reason
    assert len(server.calls) == 1 and len(outbox_entries()) == 1


def test_webhook_redirect_is_not_followed(parcel, data, hook_server):
    server, base = hook_server
    result, = deliver(parcel, [f"{base}/moved"], retry=FAST, sleep=no_sleep())
    assert result.status is Status.QUEUED and "redirect" in result.reason and len(server.calls) == 1


def test_slow_webhook_hits_the_deadline(parcel, data, hook_server):
    server, base = hook_server
    started = time.monotonic()
    result, = deliver(parcel, [f"{base}/slow"], webhook=WebhookSettings(timeout=0.4),
                      retry=RetryPolicy(attempts=2, base=0.01, cap=0.01), sleep=no_sleep())
    elapsed = time.monotonic() - started
    assert result.status is Status.QUEUED and result.attempts == 2
    assert "did not answer within 0.4 s" in result.reason and "(2 attempts)" in result.reason
    assert elapsed < 1.8, elapsed  # two deadlines, not two full 2 s answers
    assert json.loads(Path(result.outbox_entry).read_text())["settings"]["webhook"]["timeout"] == 0.4


def test_unreachable_webhook_is_retried_then_queued(parcel, data):
    waits: list[float] = []
    result, = deliver(parcel, [f"http://127.0.0.1:{free_port()}/hook"], retry=FAST, sleep=no_sleep(waits))
    assert result.status is Status.QUEUED and result.attempts == 3 and len(waits) == 2
    assert "refused" in result.reason


def test_https_with_an_untrusted_certificate_is_one_clear_line(parcel, data, certs):
    server = start_http(_server_context(certs, "rogue"))
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/ok"
        result, = deliver(parcel, [url], retry=FAST, sleep=no_sleep())
        assert result.status is Status.QUEUED and result.attempts == 1 and server.calls == []
        assert "TLS certificate of https://127.0.0.1" in result.reason and "not trusted" in result.reason
        assert "\n" not in result.line()
    finally:
        server.shutdown()
        server.server_close()


def test_https_with_a_trusted_certificate_is_delivered(parcel, data, certs):
    server = start_http(_server_context(certs))
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/ok"
        result, = deliver(parcel, [url], webhook=WebhookSettings(cafile=str(certs["ca"])), retry=FAST)
    finally:
        server.shutdown()
        server.server_close()
    assert result.status is Status.DELIVERED and len(server.calls) == 1


def test_webhook_outbox_is_flushed_on_the_next_run(parcel, data, hook_server):
    server, base = hook_server
    dead = f"http://127.0.0.1:{free_port()}/hook"
    first, = deliver(parcel, [dead], retry=FAST, sleep=no_sleep())
    assert first.status is Status.QUEUED
    # the same content queued twice stays one entry; another destination of the same host is not hammered
    deliver(parcel, [dead], retry=FAST, sleep=no_sleep())
    assert len(outbox_entries()) == 1
    entry = outbox_entries()[0]
    data_before = json.loads(entry.path.read_text())
    data_before["destination"] = f"{base}/ok"  # the user fixed the URL by hand: it is retried there
    entry.path.write_text(json.dumps(data_before))
    flushed, = flush_outbox()
    assert flushed.status is Status.DELIVERED and "from the outbox" in flushed.reason
    assert len(server.calls) == 1 and outbox_entries() == []


def test_discord_and_teams_bodies(parcel):
    discord = build_body(parcel, parse_destination("https://discord.com/api/webhooks/1/tok"))
    assert set(discord) == {"content", "username", "allowed_mentions"}
    assert discord["allowed_mentions"] == {"parse": []} and len(discord["content"]) <= 2000
    teams = build_body(parcel, parse_destination("https://acme.webhook.office.com/webhookb2/x"))
    assert teams["@type"] == "MessageCard" and teams["title"] == parcel.subject and parcel.headline in teams["text"]


# == files, ledger, outbox =====================================================================================

def test_file_destination_copies_atomically_and_once(parcel, data, tmp_path):
    target = tmp_path / "share"
    target.mkdir()
    result, = deliver(parcel, [f"file:{target}"])
    assert result.status is Status.DELIVERED
    assert sorted(p.name for p in target.iterdir()) == ["report.html", "report.md"]
    assert (target / "report.html").read_text(encoding="utf-8") == parcel.html
    (target / "report.html").write_text("edited by someone", encoding="utf-8")
    again, = deliver(parcel, [f"file:{target}"])
    assert again.status is Status.SKIPPED and (target / "report.html").read_text() == "edited by someone"


def test_missing_directory_is_queued(parcel, data, tmp_path):
    result, = deliver(parcel, [f"file:{tmp_path / 'not-mounted'}"])
    assert result.status is Status.QUEUED and "does not exist" in result.reason
    assert not (tmp_path / "not-mounted").exists()
    (tmp_path / "not-mounted").mkdir()
    flushed, = flush_outbox()
    assert flushed.status is Status.DELIVERED and (tmp_path / "not-mounted" / "report.md").exists()


def test_ledger_rule_same_content_skipped_changed_content_sent(parcel, data, hook_server):
    server, base = hook_server
    assert deliver(parcel, [f"{base}/ok"])[0].status is Status.DELIVERED
    assert deliver(parcel, [f"{base}/ok"])[0].status is Status.SKIPPED
    assert len(server.calls) == 1
    changed = replace(parcel, identity=content_identity("report", parcel.since, parcel.until, parcel.repositories,
                                                         ["a" * 40]))
    assert deliver(changed, [f"{base}/ok"])[0].status is Status.DELIVERED
    assert deliver(parcel, [f"{base}/ok"], force=True)[0].status is Status.DELIVERED
    assert len(server.calls) == 3


def test_content_identity_follows_the_commits(rendered):
    ctx = rendered["context"]
    one = parcel_from_context(ctx)
    assert one.identity == parcel_from_context(json.loads(json.dumps(ctx))).identity
    assert one.identity.startswith("report:2026-11-01")
    week = parcel_from_context(ctx, kind="digest", period_key="2026-W45")
    assert week.identity.startswith("digest:2026-W45..2026-W45:shop:")
    assert parcel_from_context(ctx, shas=["x"]).identity != one.identity
    assert content_identity("digest", "w", "w", ["b", "a"], ["2", "1", "1"]) == \
        content_identity("digest", "w", "w", ["a", "b"], ["1", "2"])


def test_outbox_entries_are_private_complete_and_discardable(parcel, data):
    result, = deliver(parcel, [f"http://127.0.0.1:{free_port()}/hook"], retry=FAST, sleep=no_sleep())
    path = Path(result.outbox_entry)
    assert path.parent == data / "outbox" and oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["parcel"]["html"] == parcel.html and stored["parcel"]["text"] == parcel.text
    assert [f["name"] for f in stored["parcel"]["files"]] == ["report.html", "report.md"]
    assert discard(path.stem) and outbox_entries() == []


def test_unreadable_outbox_entry_is_set_aside_not_deleted(data):
    (data / "outbox").mkdir(parents=True)
    (data / "outbox" / "junk.json").write_text("{ not json", encoding="utf-8")
    assert flush_outbox() == []
    assert [p.name.startswith("junk-") for p in (data / "outbox" / "broken").iterdir()] == [True]


def test_retry_helper_stops_on_permanent_and_caps_waits():
    calls = []

    def send():
        calls.append(1)
        raise SendFailure("nope", transient=len(calls) < 2)

    waits: list[float] = []
    with pytest.raises(SendFailure) as caught:
        with_retries(send, RetryPolicy(attempts=5), sleep=waits.append, rng=lambda: 1.0)
    assert len(calls) == 2 and caught.value.attempts == 2 and waits == [0.5]
    policy = RetryPolicy(base=1, factor=2, cap=30, jitter=0.5)
    assert [policy.delay(n, rng=lambda: 0.0) for n in (1, 2, 3, 6, 10)] == [1, 2, 4, 30, 30]
    assert policy.delay(1, rng=lambda: 0.0, retry_after=120) == 1  # a Retry-After beyond the cap is not obeyed blindly


def test_delivery_error_is_a_narrator_error():
    assert issubclass(DeliveryError, NarratorError) and issubclass(DestinationError, DeliveryError)


# == the real thing ============================================================================================

FLASK = Path("/work/repos/flask")


@pytest.mark.skipif(not (FLASK / ".git").exists(), reason="needs the flask clone under /work/repos")
def test_real_flask_report_reaches_mail_and_webhook(data, certs, tmp_path, hook_server):
    env = {"SOURCE_DATE_EPOCH": "1771632000"}
    paths = {}
    for fmt in ("md", "html", "json"):
        paths[fmt] = tmp_path / f"flask.{fmt}"
        proc = run_narrate("report", "--repo", str(FLASK), "--since", "2026-01-15", "--until", "2026-02-20",
                           "-o", str(paths[fmt]), env=env)
        assert proc.returncode == 0, proc.stderr
    context = json.loads(paths["json"].read_text(encoding="utf-8"))
    parcel = parcel_from_context(context, html=paths["html"].read_text(encoding="utf-8"),
                                 text=paths["md"].read_text(encoding="utf-8"), files=[paths["html"]])
    mailbox = Mailbox()
    controller, port = start_smtp(certs, mailbox)
    server, base = hook_server
    try:
        results = deliver(parcel, ["mailto:manager@example.com", f"{base}/ok"], smtp=smtp_settings(certs, port))
    finally:
        controller.stop()
    assert [r.status for r in results] == [Status.DELIVERED, Status.DELIVERED], [r.line() for r in results]
    message = mailbox.messages[0][2]
    assert "flask" in message["Subject"] and "3.1.3" in message.get_body(("plain",)).get_content()
    assert "Release 3.1.3 went out." in server.calls[0][1]["text"]
    assert server.calls[0][1]["narrator"]["repositories"] == ["flask"]
