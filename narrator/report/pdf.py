"""HTML report -> PDF, with WeasyPrint, offline and without reading anything but the page itself.

``html_to_pdf`` turns the self-contained HTML report (or digest) into PDF bytes; ``write_pdf`` writes them
atomically (temporary file in the destination directory, then ``os.replace``). The page's ``@media print``
rules (``reports/templates/_style.css.j2``) lay it out on A4.

WeasyPrint is an optional dependency (the ``pdf`` extra) and needs the Pango system library; either one
missing gives one ``PdfError`` line naming what to install. The page is untrusted (commit text, user
templates): the URL fetcher serves only inline ``data:`` URLs, so a ``file:`` or ``http:`` reference in the
page is never read or fetched, it is left out of the PDF.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from narrator.errors import OutputError

__all__ = ["PdfError", "html_to_pdf", "pdf_available", "write_pdf"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'narrator[pdf]'"
SYSTEM_HINT = ("apt-get install libpango-1.0-0 libpangoft2-1.0-0 (Debian/Ubuntu), "
               "dnf install pango (Fedora) or brew install pango (macOS)")


class PdfError(OutputError):
    """A PDF cannot be produced (WeasyPrint or a system library missing, or rendering failed)."""


def _weasyprint() -> Any:
    """The weasyprint module, imported on first use (it is heavy and optional)."""
    try:
        import weasyprint
    except ImportError as exc:
        raise PdfError(f"PDF output needs WeasyPrint: {INSTALL_HINT}") from exc
    except OSError as exc:  # cffi could not load pango/gobject/harfbuzz
        missing = str(exc).splitlines()[0] if str(exc) else "a system library"
        raise PdfError(f"PDF output needs the Pango system library that WeasyPrint uses ({missing}); "
                       f"install it: {SYSTEM_HINT}") from exc
    return weasyprint


def pdf_available() -> bool:
    """True when ``html_to_pdf`` can run here (WeasyPrint and its system libraries load)."""
    try:
        _weasyprint()
    except PdfError:
        return False
    return True


def _inline_only_fetcher(weasyprint: Any) -> Any:
    """A URL fetcher that serves ``data:`` URLs and refuses every other URL (no file, no network)."""
    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    if fetcher_class is not None:  # WeasyPrint >= 66
        return fetcher_class(allowed_protocols=("data",), allow_redirects=False, timeout=1)
    default = weasyprint.default_url_fetcher

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith("data:"):
            return default(url, *args, **kwargs)
        raise ValueError("narrator PDFs use only inline resources")

    return fetch


class _Demote(logging.Filter):
    """WeasyPrint warns about every CSS property it does not know; those go to narrator's debug log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        log.debug("weasyprint: %s", record.getMessage())
        return False


def html_to_pdf(html: str) -> bytes:
    """The PDF (A4, print stylesheet) of one self-contained HTML page, as bytes.

    Raises ``PdfError`` when WeasyPrint or a system library it needs is missing, or rendering fails.
    """
    weasyprint = _weasyprint()
    wlog = logging.getLogger("weasyprint")
    demote = _Demote()
    wlog.addFilter(demote)
    try:
        document = weasyprint.HTML(string=html, url_fetcher=_inline_only_fetcher(weasyprint),
                                   media_type="print")
        data = document.write_pdf()
    except PdfError:
        raise
    except Exception as exc:  # WeasyPrint raises many types; one line says what failed
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PdfError(f"cannot render the report as PDF: {reason}; try --format html") from exc
    finally:
        wlog.removeFilter(demote)
    if not isinstance(data, bytes) or not data.startswith(b"%PDF"):
        raise PdfError("cannot render the report as PDF: WeasyPrint returned no PDF; try --format html")
    return data


def write_pdf(html: str, path: str | os.PathLike[str]) -> Path:
    """Render ``html`` to PDF and write it to ``path`` atomically (``narrator.report.output``: a pipe or a
    device is written into, temporaries of a killed run are cleaned); return the path written.

    The PDF is rendered before the file is touched, so a failure leaves any existing file as it was.
    """
    from narrator.report.output import check_writable, write_atomic

    check_writable(path)
    return write_atomic(path, html_to_pdf(html))
