"""PDF output: a real PDF from a real HTML report, readable, 1-2 A4 pages, inert to hostile commit text.

Needs WeasyPrint (the ``pdf`` extra) and pypdf (``dev``); the tests of the missing-library errors do not.
Rendering pages to PNG uses poppler's ``pdftoppm`` when it is installed.
"""

from __future__ import annotations

import builtins
import shutil
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import BASE_DATE, run_narrate
from narrator.errors import OutputError
from narrator.report import pdf as pdf_module
from narrator.report.pdf import PdfError, html_to_pdf, write_pdf

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
           "{{ 7*7 }}", "{% for x in y %}", "\x1b[31mred\x1b[0m", "</style><h1>BIG</h1>", "url(file:///etc/passwd)"]

needs_weasyprint = pytest.mark.skipif(not pdf_module.pdf_available(),
                                      reason="WeasyPrint (pip install 'narrator[pdf]') or Pango is missing")


def _html_report(repo, tmp_path: Path, *commits: tuple[str, dict[str, str]]) -> str:
    for n, (message, files) in enumerate(commits):
        repo.commit(message, files, when=BASE_DATE + timedelta(hours=3 * n + 1))
    out = tmp_path / "report.html"
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--until", "2026-11-14",
                       "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


def _reader(data: bytes):
    pypdf = pytest.importorskip("pypdf")
    import io

    return pypdf.PdfReader(io.BytesIO(data))


@needs_weasyprint
def test_small_report_is_a_real_one_or_two_page_a4_pdf(git_repo, tmp_path):
    html = _html_report(git_repo, tmp_path,
                        ("feat: add export to spreadsheet", {"src/export.py": "def export():\n    return 1\n"}),
                        ("fix: crash when the basket is empty", {"src/basket.py": "x = 1\n"}),
                        ("docs: explain the export", {"docs/export.md": "# Export\n"}))
    data = html_to_pdf(html)
    assert data.startswith(b"%PDF-")
    reader = _reader(data)
    assert 1 <= len(reader.pages) <= 2
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 in points
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "progress report" in text and "Highlights" in text and "export" in text.lower()
    if shutil.which("pdftoppm"):
        target = tmp_path / "page"
        pdf_path = tmp_path / "r.pdf"
        pdf_path.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf_path), str(target)], check=True)
        pngs = sorted(tmp_path.glob("page*.png"))
        assert len(pngs) == len(reader.pages) and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@needs_weasyprint
def test_hostile_commit_text_stays_text(git_repo, tmp_path):
    html = _html_report(git_repo, tmp_path, *[(f"feat: {h}", {f"src/f{i}.py": f"x = {i}\n"})
                                              for i, h in enumerate(HOSTILE)])
    data = html_to_pdf(html)
    reader = _reader(data)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text  # shown literally, as text
    assert "{% for x in y %}" in text and "</style><h1>BIG</h1>" in text  # no template run, no style escape
    assert b"/JavaScript" not in data and b"/JS " not in data and b"javascript:" not in data.lower()
    assert b"\x1b" not in b"".join(p.extract_text().encode() for p in reader.pages)


@needs_weasyprint
def test_pdf_never_fetches_anything(tmp_path):
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    page = (f"<html><head><link rel=stylesheet href='{base}/x.css'><style>@import url('{base}/y.css');"
            f"body {{ background: url('{base}/bg.png') }}</style></head><body><p>hello</p>"
            f"<img src='{base}/img.png'><img src='file://{secret}'>"
            f"<object data='file://{secret}'></object><iframe src='file://{secret}'></iframe>"
            "<img src='data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw=='></body></html>")
    try:
        data = html_to_pdf(page)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
    assert b"TOP-SECRET-CONTENT" not in data
    assert "hello" in _reader(data).pages[0].extract_text()


@needs_weasyprint
def test_write_pdf_is_atomic(tmp_path):
    target = tmp_path / "out.pdf"
    assert write_pdf("<p>one</p>", target) == target
    assert target.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]
    with pytest.raises(OutputError, match="does not exist"):
        write_pdf("<p>x</p>", tmp_path / "missing" / "out.pdf")


def test_missing_weasyprint_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # "import weasyprint" now raises ImportError
    with pytest.raises(PdfError) as caught:
        html_to_pdf("<p>x</p>")
    assert str(caught.value) == "PDF output needs WeasyPrint: pip install 'narrator[pdf]'"
    assert not pdf_module.pdf_available()


def test_missing_pango_names_the_system_library(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(PdfError) as caught:
        html_to_pdf("<p>x</p>")
    message = str(caught.value)
    assert "Pango" in message and "libpango-1.0-0" in message and "apt-get install" in message
    assert "\n" not in message


FLASK = Path("/work/repos/flask")


@needs_weasyprint
@pytest.mark.skipif(not (FLASK / ".git").exists(), reason="needs the flask clone under /work/repos")
def test_two_weeks_of_flask_fit_two_pages(tmp_path):
    out = tmp_path / "flask.html"
    proc = run_narrate("report", "--repo", str(FLASK), "--since", "2026-02-06", "--until", "2026-02-20",
                       "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    reader = _reader(html_to_pdf(out.read_text(encoding="utf-8")))
    assert 1 <= len(reader.pages) <= 2
    assert "Release 3.1.3 went out." in reader.pages[0].extract_text()
