"""`--to` on `narrate report` and `narrate digest`, end to end through the CLI, against real local servers.

An aiosmtpd SMTP server (STARTTLS, login) and http.server webhooks on 127.0.0.1 (from tests/test_delivery.py);
settings come from a user config file as a user writes it ([delivery], [delivery.smtp]). Every failure of the
issue is checked: one clear line, the right exit code (2 before any work, 3 when a delivery waits in the
outbox), the report file written anyway, and the waiting delivery sent by the next run, once.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import BASE_DATE, GitRepo, run_narrate

pytest.importorskip("aiosmtpd.controller")
pytest.importorskip("cryptography.x509")

from test_delivery import (  # noqa: E402  (the servers and certificates of the delivery tests)
    PASSWORD, PASSWORD_ENV, USER, WRONG, Hook, Mailbox, _server_context, certs, free_port, start_http, start_smtp,
)

__all__ = ["certs"]  # the module-scoped certificate fixture, shared
HOSTILE = "<script>alert(1)</script> <!channel> {{ 7*7 }}"
WINDOW = ("--since", "2026-11-01", "--until", "2026-11-08")
NOW_W47 = str(int((BASE_DATE + timedelta(days=15)).timestamp()))  # Tuesday 17 November 2026: week 47 in progress


class DownHook(Hook):
    """Like the delivery tests' webhook, plus /down: always 503."""

    def do_POST(self):  # noqa: N802
        if self.path == "/down":
            length = int(self.headers.get("Content-Length", 0))
            self.server.calls.append((self.path, json.loads(self.rfile.read(length)), dict(self.headers)))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_POST()


def _serve(handler, context=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.calls = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def hooks():
    server = _serve(DownHook)
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp(certs):
    mailbox = Mailbox()
    controller, port = start_smtp(certs, mailbox)
    yield mailbox, port
    controller.stop()


def write_config(path: Path, certs, port: int, extra: str = "") -> Path:
    path.write_text(f"""
[delivery]
attempts = 2
backoff_s = 0.01
backoff_cap_s = 0.02

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "{USER}"
password_env = "{PASSWORD_ENV}"
from = "Team reports <reports@example.com>"
timeout_s = 5
cafile = "{certs['ca']}"

[delivery.webhook]
timeout_s = 5
{extra}
""", encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path, certs, monkeypatch, isolated_env):
    """A user config pointing at a local SMTP port (set by the test) and the password in the environment."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    def make(port: int, extra: str = "") -> Path:
        path = write_config(tmp_path / "config.toml", certs, port, extra)
        monkeypatch.setenv("NARRATOR_CONFIG_FILE", str(path))
        return path

    return make


def shop(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.commit("feat: add export to spreadsheet", {"src/export.py": "def export():\n    return 1\n"},
                when=BASE_DATE + timedelta(hours=1))
    repo.commit(f"fix: basket crash {HOSTILE}", {"src/basket.py": "x = 1\n"}, when=BASE_DATE + timedelta(days=1))
    repo.commit("docs: explain the export", {"docs/export.md": "# Export\n"}, when=BASE_DATE + timedelta(days=2))
    return repo


def outbox(isolated_env) -> list[Path]:
    return sorted((isolated_env / "data" / "outbox").glob("*.json"))


def lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


# == a report reaches mail, a webhook and a directory, once ====================================================

def test_report_reaches_mail_webhook_and_directory_once(tmp_path, config, smtp, hooks, isolated_env):
    mailbox, port = smtp
    server, base = hooks
    config(port)
    repo = shop(tmp_path / "shop")
    shared = tmp_path / "shared"
    shared.mkdir()
    out = tmp_path / "report.html"
    args = ("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", "mailto:boss@example.com",
            "--to", f"{base}/ok", "--to", f"file:{shared}")
    proc = run_narrate(*args)
    assert proc.returncode == 0, proc.stderr
    assert f"narrate: wrote {out}" in proc.stderr
    assert "narrate: delivered to mailto:boss@example.com" in proc.stderr
    assert f"narrate: delivered to http://127.0.0.1:{server.server_address[1]}/…" in proc.stderr  # path hidden
    assert sum("delivered to" in line for line in lines(proc)) == 3
    (sender, rcpts, message), = mailbox.messages
    assert sender == "reports@example.com" and rcpts == ["boss@example.com"]
    assert message["Subject"].startswith("[narrator] shop") and "progress report" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "**In short:**" in plain and "export" in plain  # the Markdown report as the text part
    assert html.replace("\r\n", "\n") == out.read_text(encoding="utf-8")  # the HTML report itself
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    (path, body, _), = server.calls
    assert path == "/ok" and body["narrator"]["repositories"] == ["shop"] and body["narrator"]["kind"] == "report"
    assert "<!channel>" not in body["text"] and "&lt;!channel&gt;" in body["text"]
    assert (shared / "report.html").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")

    again = run_narrate(*args)
    assert again.returncode == 0, again.stderr
    assert sum("not sent to" in line and "again" in line for line in lines(again)) == 3
    assert len(mailbox.messages) == 1 and len(server.calls) == 1
    assert outbox(isolated_env) == []


def test_report_to_stdout_still_delivers_named_files(tmp_path, config, hooks):
    server, base = hooks
    config(free_port())
    repo = shop(tmp_path / "shop")
    shared = tmp_path / "shared"
    shared.mkdir()
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md", "--to", f"file:{shared}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# shop")
    assert sorted(p.name for p in shared.iterdir()) == ["shop-2026-11-01-to-2026-11-08.html",
                                                        "shop-2026-11-01-to-2026-11-08.md"]


def test_pdf_report_is_attached_to_the_mail(tmp_path, config, smtp):
    from narrator.report.pdf import pdf_available

    if not pdf_available():
        pytest.skip("WeasyPrint (the pdf extra) or Pango is missing")
    mailbox, port = smtp
    config(port)
    repo = shop(tmp_path / "shop")
    out = tmp_path / "report.pdf"
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", "mailto:boss@example.com")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    (_, _, message), = mailbox.messages
    assert message.get_content_type() == "multipart/mixed"
    attachment, = [p for p in message.iter_attachments()]
    assert attachment.get_filename() == "report.pdf" and attachment.get_content().startswith(b"%PDF-")
    assert "<!DOCTYPE html>" in message.get_body(("html",)).get_content()


# == failures: one line, exit 3, the report written, nothing lost ================================================

def test_unreachable_smtp_waits_in_the_outbox_and_the_next_run_sends_it_once(tmp_path, config, certs,
                                                                             isolated_env):
    port = free_port()  # nothing listens there yet
    config(port)
    repo = shop(tmp_path / "shop")
    out = tmp_path / "report.md"
    args = ("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", "mailto:boss@example.com")
    proc = run_narrate(*args)
    assert proc.returncode == 3, proc.stderr
    assert out.exists() and out.read_text(encoding="utf-8").startswith("# shop")  # written first
    line, = [x for x in lines(proc) if "not delivered" in x]
    assert f"connection to the SMTP server 127.0.0.1:{port} refused" in line and "(2 attempts)" in line
    assert "kept in the outbox" in line and "retried on the next run" in line
    assert len(outbox(isolated_env)) == 1
    assert PASSWORD not in json.dumps([p.read_text() for p in outbox(isolated_env)])

    listed = run_narrate("outbox")
    assert listed.returncode == 0 and "mailto:boss@example.com" in listed.stdout and "refused" in listed.stdout

    mailbox = Mailbox()
    controller, _ = start_smtp(certs, mailbox, port=port)
    try:
        again = run_narrate(*args)
    finally:
        controller.stop()
    assert again.returncode == 0, again.stderr
    assert "narrate: outbox: delivered to mailto:boss@example.com; from the outbox" in again.stderr
    assert "not sent to mailto:boss@example.com again" in again.stderr
    assert len(mailbox.messages) == 1 and outbox(isolated_env) == []


def test_wrong_password_is_one_line_with_narrators_key_names(tmp_path, config, smtp, monkeypatch, isolated_env):
    mailbox, port = smtp
    config(port)
    monkeypatch.setenv(PASSWORD_ENV, WRONG)
    repo = shop(tmp_path / "shop")
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "-o", str(tmp_path / "r.md"),
                       "--to", "mailto:boss@example.com")
    assert proc.returncode == 3
    line, = [x for x in lines(proc) if "not delivered" in x]
    assert "refused the login of 'reports'" in line and "535" in line and "not retried" in line
    assert "delivery.smtp.username" in line and f"${PASSWORD_ENV}" in line
    assert WRONG not in proc.stderr and PASSWORD not in proc.stderr
    assert mailbox.messages == [] and len(outbox(isolated_env)) == 1


@pytest.mark.parametrize("path, reason, attempts", [
    ("/missing", "answered 404", "not retried"),
    ("/down", "answered 503", "(2 attempts)"),
])
def test_webhook_4xx_and_5xx_wait_in_the_outbox(tmp_path, config, hooks, isolated_env, path, reason, attempts):
    server, base = hooks
    config(free_port())
    repo = shop(tmp_path / "shop")
    out = tmp_path / "r.json"
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", f"{base}{path}")
    assert proc.returncode == 3
    assert json.loads(out.read_text(encoding="utf-8"))["repository"] == "shop"
    line, = [x for x in lines(proc) if "not delivered" in x]
    assert reason in line and attempts in line and "kept in the outbox" in line
    assert len(outbox(isolated_env)) == 1


def test_flaky_webhook_is_retried_and_delivered(tmp_path, config, hooks):
    server, base = hooks
    config(free_port())
    repo = shop(tmp_path / "shop")
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md", "--to", f"{base}/flaky")
    assert proc.returncode == 0, proc.stderr
    assert "delivered to" in proc.stderr and "(after 2 attempts)" in proc.stderr
    assert [p for p, _, _ in server.calls] == ["/flaky", "/flaky"]


def test_webhook_with_an_untrusted_certificate_waits(tmp_path, config, certs, isolated_env):
    config(free_port())
    server = _serve(Hook, _server_context(certs, "rogue"))
    try:
        repo = shop(tmp_path / "shop")
        proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md",
                           "--to", f"https://127.0.0.1:{server.server_address[1]}/ok")
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 3
    line, = [x for x in lines(proc) if "not delivered" in x]
    assert "TLS certificate" in line and "not trusted" in line and "not retried" in line
    assert server.calls == [] and len(outbox(isolated_env)) == 1


def test_smtp_with_an_untrusted_certificate_waits(tmp_path, config, certs, isolated_env, monkeypatch):
    mailbox = Mailbox()
    controller, port = start_smtp(certs, mailbox)
    try:
        path = config(port)
        path.write_text(path.read_text().replace(f'cafile = "{certs["ca"]}"', 'cafile = ""'), encoding="utf-8")
        repo = shop(tmp_path / "shop")
        proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md",
                           "--to", "mailto:boss@example.com")
    finally:
        controller.stop()
    assert proc.returncode == 3
    assert "TLS certificate of 127.0.0.1" in proc.stderr and "delivery.smtp.cafile" in proc.stderr
    assert mailbox.messages == []


@pytest.mark.parametrize("target, message", [
    ("mailto:nobody", "has no '@domain'"),
    ("mailto:a@b.example%0d%0aBcc:evil@x.example", "only a plain address"),
    ("boss@example.com", "for e-mail write mailto:boss@example.com"),
    ("ftp://example.com/x", "unknown destination"),
    ("slack", "give a scheme"),
    ("http://example.com/hook", "refusing plain http://"),
    ("https://user:pw@example.com/hook", "passwords in the URL"),
])
def test_bad_destinations_fail_before_any_work(tmp_path, config, target, message, isolated_env):
    config(free_port())
    repo = shop(tmp_path / "shop")
    out = tmp_path / "r.md"
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", target)
    assert proc.returncode == 2
    error, = lines(proc)
    assert error.startswith("narrate: error: ") and message in error
    assert not out.exists() and outbox(isolated_env) == []


@pytest.mark.parametrize("edit, message", [
    (('from = "Team reports <reports@example.com>"', ''), "delivery.smtp.from"),
    (('password_env = "NARRATOR_TEST_SMTP_PASSWORD"', 'password_env = "NARRATOR_NO_SUCH_VARIABLE"'),
     "environment variable NARRATOR_NO_SUCH_VARIABLE"),
    (('security = "starttls"', 'security = "ssl3"'), "delivery.smtp.security 'ssl3'"),
    (('timeout_s = 5', 'timeout_s = 5\npassword = "hunter2"'), "must not be written in a config file"),
])
def test_mail_settings_that_cannot_work_fail_before_any_work(tmp_path, config, edit, message):
    path = config(free_port())
    path.write_text(path.read_text().replace(*edit), encoding="utf-8")
    repo = shop(tmp_path / "shop")
    out = tmp_path / "r.md"
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "-o", str(out), "--to", "mailto:boss@example.com")
    assert proc.returncode == 2, proc.stderr
    error, = lines(proc)
    assert message in error and "hunter2" not in error
    assert not out.exists()


def test_a_repository_cannot_choose_where_reports_are_sent(tmp_path, config, smtp):
    mailbox, port = smtp
    config(port)
    repo = shop(tmp_path / "shop")
    repo.write(".narrator.toml", '[delivery.smtp]\nhost = "mail.evil.example"\nfrom = "x@evil.example"\n'
                                 '[workspace.evil]\nx = "/etc"\n')
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md", "--to", "mailto:boss@example.com")
    assert proc.returncode == 0, proc.stderr
    note, = [x for x in lines(proc) if "note:" in x]
    assert "delivery.smtp.from_addr, delivery.smtp.host, workspace" in note and "ignored" in note
    (sender, _, _), = mailbox.messages
    assert sender == "reports@example.com"


# == digests: every finished week once; the week in progress only when it is all that was asked ================

def weekly(path: Path) -> GitRepo:
    repo = GitRepo(path)
    for week in range(3):  # weeks 45, 46, 47 of 2026
        start = BASE_DATE + timedelta(days=7 * week)
        repo.commit(f"feat: feature {week}", {f"src/f{week}.py": f"x = {week}\n"}, when=start + timedelta(hours=2))
        repo.commit(f"fix: bug {week}", {f"src/f{week}.py": f"x = {week + 1}\n"}, when=start + timedelta(hours=5))
    return repo


def test_digest_delivers_finished_weeks_once_and_holds_the_week_in_progress(tmp_path, config, hooks):
    server, base = hooks
    config(free_port())
    repo = weekly(tmp_path / "app")
    out = tmp_path / "digests"
    env = {"SOURCE_DATE_EPOCH": NOW_W47}
    args = ("digest", "--repo", str(repo.path), "--weeks", "3", "--out", str(out), "--to", f"{base}/ok")
    proc = run_narrate(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "narrate: 2026-W45: delivered to" in proc.stderr and "narrate: 2026-W46: delivered to" in proc.stderr
    assert "2026-W47 is still in progress: delivered when it is over" in proc.stderr
    bodies = [body["narrator"] for _, body, _ in server.calls]
    assert [b["kind"] for b in bodies] == ["digest", "digest"]
    assert "week 45" in bodies[0]["title"] and "week 46" in bodies[1]["title"]
    assert bodies[0]["files"] == ["2026-W45.md", "2026-W45.html"]
    assert any(h.startswith("Feature 0") for h in bodies[0]["highlights"]), bodies[0]["highlights"]
    assert any(h.startswith("Fixed: bug 1") for h in bodies[1]["highlights"]), bodies[1]["highlights"]

    again = run_narrate(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("again: this content was already delivered") == 2
    assert len(server.calls) == 2

    current = run_narrate("digest", "--repo", str(repo.path), "--weeks", "1", "--out", str(out), "--to",
                          f"{base}/ok", env=env)
    assert current.returncode == 0, current.stderr
    assert "narrate: 2026-W47: delivered to" in current.stderr
    assert len(server.calls) == 3 and "week 47" in server.calls[-1][1]["narrator"]["title"]


def test_digest_delivery_failure_keeps_the_digest_and_exits_3(tmp_path, config, hooks, isolated_env):
    server, base = hooks
    config(free_port())
    repo = weekly(tmp_path / "app")
    out = tmp_path / "digests"
    proc = run_narrate("digest", "--repo", str(repo.path), "--since", "2026-11-02", "--until", "2026-11-08",
                       "--out", str(out), "--to", f"{base}/down", env={"SOURCE_DATE_EPOCH": NOW_W47})
    assert proc.returncode == 3
    assert (out / "2026-W45.md").exists() and (out / "2026-W45.html").exists()
    assert "narrate: 2026-W45: not delivered to" in proc.stderr and "answered 503" in proc.stderr
    assert len(outbox(isolated_env)) == 1


# == the team's weekly digest reaches mail and a webhook (the "done when", on throw-away repos) ========

def team_repos(tmp_path: Path) -> list[GitRepo]:
    api, web, docs = GitRepo(tmp_path / "api"), GitRepo(tmp_path / "web"), GitRepo(tmp_path / "handbook")
    grace = ("Grace Hopper", "grace@example.com")
    alan = ("Alan Turing", "alan@example.com")
    for week in range(2):  # weeks 45 and 46
        start = BASE_DATE + timedelta(days=7 * week)
        api.commit(f"feat: payments endpoint v{week}", {f"src/pay{week}.py": "def pay():\n    return 1\n"},
                   author=grace, when=start + timedelta(hours=1))
        api.commit(f"fix: refund rounding {week}", {f"src/pay{week}.py": "def pay():\n    return 2\n"},
                   author=alan, when=start + timedelta(hours=3))
        web.commit(f"feat: checkout page {week}", {f"app/checkout{week}.js": "export default 1\n"},
                   author=("G. Hopper", "grace.hopper@old.example"), when=start + timedelta(hours=2))
        docs.commit(f"docs: payments guide part {week}", {f"guide/part{week}.md": "# Guide\n"}, author=alan,
                    when=start + timedelta(hours=4))
    # web's .mailmap says G. Hopper <grace.hopper@old.example> is Grace Hopper <grace@example.com>
    web.commit("chore: mailmap", {".mailmap": "Grace Hopper <grace@example.com> G. Hopper "
                                              "<grace.hopper@old.example>\n"},
               author=grace, when=BASE_DATE + timedelta(days=8))
    return [api, web, docs]


def test_team_weekly_digest_arrives_by_mail_and_webhook_once(tmp_path, config, smtp, hooks, isolated_env):
    mailbox, port = smtp
    server, base = hooks
    config(port)
    repos = team_repos(tmp_path)
    out = tmp_path / "digests"
    args = ["digest", *[x for r in repos for x in ("--repo", str(r.path))], "--since", "2026-11-02",
            "--until", "2026-11-15", "--out", str(out), "--to", "mailto:manager@example.com", "--to", f"{base}/ok"]
    proc = run_narrate(*args, env={"SOURCE_DATE_EPOCH": NOW_W47})
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "2026-W45.html", "2026-W45.md", "2026-W46.html", "2026-W46.md", "index.html", "index.md"]
    assert proc.stderr.count("delivered to mailto:manager@example.com") == 2

    subjects = [m["Subject"] for _, _, m in mailbox.messages]
    assert len(subjects) == 2 and all(s.startswith("[narrator] api, web, handbook") for s in subjects)
    assert "week 45 of 2026" in subjects[0] and "week 46 of 2026" in subjects[1]
    message = mailbox.messages[1][2]
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    page_md, page_html = ((out / f"2026-W46.{ext}").read_text(encoding="utf-8") for ext in ("md", "html"))
    assert page_md.startswith("[All digests](index.md)") and '<nav class="digest-nav' in page_html
    # the digest itself, less the links to the other files of the digest directory (they lead nowhere from mail)
    assert plain.startswith("> **Weekly digest: week 46 of 2026") and plain in page_md
    assert "[All digests]" not in plain and '<nav class="digest-nav' not in html and "</main>" in html
    from narrator.cli.digest import for_mail

    assert plain == for_mail(page_md, "md") and html == for_mail(page_html, "html")
    for name in ("## api", "## web", "## handbook", "## Where the work went"):
        assert name in plain
    assert "| api | 2 |" in plain and "| web | 2 |" in plain and "| handbook | 1 |" in plain  # (+ the .mailmap)
    # Grace (two addresses, one .mailmap) and Alan work in two repositories each: two people, counted once
    assert "2 people (counted once across repositories, 2 of them in more than one repository)" in plain
    assert "payments endpoint" in plain.lower() and "checkout page" in plain.lower()

    bodies = [body for _, body, _ in server.calls]
    assert len(bodies) == 2
    week46 = bodies[1]["narrator"]
    assert week46["kind"] == "digest" and week46["repositories"] == ["api", "web", "handbook"]
    assert week46["numbers"]["contributors"] == 2 and week46["numbers"]["work_commits"] == 5
    assert any(h.startswith("api: ") for h in week46["highlights"])
    assert any(h.startswith("web: ") for h in week46["highlights"])
    assert "week 46" in bodies[1]["text"] and "2 people made 5 changes across 3 repositories" in bodies[1]["text"]

    again = run_narrate(*args, env={"SOURCE_DATE_EPOCH": NOW_W47})
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("again: this content was already delivered") == 4
    assert len(mailbox.messages) == 2 and len(server.calls) == 2 and outbox(isolated_env) == []


def test_team_digest_with_a_missing_repository_is_partial(tmp_path, config, hooks):
    server, base = hooks
    config(free_port())
    repos = team_repos(tmp_path)
    out = tmp_path / "digests"
    proc = run_narrate("digest", "--repo", str(repos[0].path), "--repo", str(tmp_path / "gone"), "--since",
                       "2026-11-09", "--until", "2026-11-15", "--out", str(out), "--to", f"{base}/ok",
                       env={"SOURCE_DATE_EPOCH": NOW_W47})
    assert proc.returncode == 4, proc.stderr
    assert f"narrate: warning: gone left out: {tmp_path / 'gone'} does not exist" in proc.stderr
    assert "delivered to" in proc.stderr
    text = (out / "2026-W46.md").read_text(encoding="utf-8")
    assert "## Not included" in text and "gone could not be read" in text
    assert any("gone could not be read" in a for a in server.calls[0][1]["narrator"]["attention"])


def test_digest_mail_leaves_out_the_directory_links_and_points_at_the_published_index(tmp_path, config, smtp):
    mailbox, port = smtp
    path = config(port)
    path.write_text(path.read_text().replace("[delivery]\n", '[delivery]\nlink = "https://reports.example.com/app"\n'),
                    encoding="utf-8")
    repo = weekly(tmp_path / "app")
    repo.commit("feat: [All digests](index.md) <nav class=\"digest-nav\">x</nav>", {"src/n.py": "x = 9\n"},
                when=BASE_DATE + timedelta(days=1))
    proc = run_narrate("digest", "--repo", str(repo.path), "--since", "2026-11-02", "--until", "2026-11-08",
                       "--out", str(tmp_path / "d"), "--to", "mailto:boss@example.com",
                       env={"SOURCE_DATE_EPOCH": NOW_W47})
    assert proc.returncode == 0, proc.stderr
    (_, _, message), = mailbox.messages
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert plain.rstrip().endswith("All digests: https://reports.example.com/app/index.html")
    assert '(index.md) &lt;nav class="digest-nav">x&lt;/nav>' in plain  # the commit's text, escaped, stays
    assert '<a href="https://reports.example.com/app/index.html">All digests</a>' in html
    assert "&lt;nav class=&#34;digest-nav&#34;&gt;" in html or "&lt;nav class=&quot;digest-nav&quot;&gt;" in html
