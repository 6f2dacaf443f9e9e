"""Rendering a ``Report`` with Jinja2: Markdown, a self-contained HTML page, digests, indexes, user templates.

Templates receive the JSON-ready context (``Report.to_context()``) plus ``view``, the presentation values
computed once from the typed report (``narrator.report.view``). Commit-derived text is data, never template
source: built-in templates escape it with the ``esc`` filter (Markdown escaping in ``.md`` templates, HTML
autoescaping in ``.html`` ones), and user templates run in Jinja's sandbox. Digests extend the report
templates (``{% extends "report.html.j2" %}``). JSON is ``narrator.report.json_out``; the terminal is
``narrator.report.terminal``.
"""

from __future__ import annotations

import re
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

import narrator
from narrator import categories
from narrator.errors import NarratorError, UsageError
from narrator.report.json_out import context_json, json_chunks
from narrator.report.model import Report
from narrator.report.text import clean_text, day_words, md_escape, one_line, plural, sentence
from narrator.report.view import View, build_view

__all__ = ["FORMATS", "render", "render_chunks", "render_context", "render_template", "render_digest",
           "render_index", "template_dirs"]

FORMATS = ("md", "html", "json", "term")


def _num(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _tier(value: object, category: object = "") -> str:
    """What kind of change a highlight is for users ("security fix", "behaviour change"), else its category tag."""
    from narrator.report.model import tier_words

    return tier_words(str(value)) if value else categories.tag(str(category))


_URL_SAFE = re.compile(r"^https?://[A-Za-z0-9.\-]+(?::\d+)?/[A-Za-z0-9._~:/?#\[\]@!$&'*+,;=%\-]*$")


def _safe_url(url: object) -> str:
    """A link narrator built to a forge (https, no spaces or quotes), else "" (a saved context is untrusted)."""
    link = str(url or "")
    return link if link and _URL_SAFE.match(link) and not any(c in link for c in "()<> \"'") else ""


def _md_link(text: object, url: object) -> str:
    """``[text](url)`` in Markdown for a forge URL narrator built (anything else: the text alone)."""
    label = md_escape(text, brackets=True)
    link = str(url or "")
    if not link or not _URL_SAFE.match(link) or any(c in link for c in "()<> "):
        return label
    return f"[{label}]({link})"


def _pct(value: object) -> str:
    return f"{float(value):.0%}" if isinstance(value, (int, float)) else str(value)


# -- Jinja environments ------------------------------------------------------------------------------------

def template_dirs() -> list[Path]:
    """Where the built-in templates live: the installed package first, then a source checkout."""
    package = Path(narrator.__file__).resolve().parent
    candidates = [package / "_templates", package.parent / "reports" / "templates"]
    found = [d for d in candidates if d.is_dir()]
    if not found:
        raise NarratorError(f"narrator's report templates are missing (looked in {candidates[0]} and "
                            f"{candidates[1]}); reinstall narrator")
    return found[:1]


def _finalize(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return value


def _filters(markdown: bool) -> dict[str, Callable[..., Any]]:
    return {
        "esc": md_escape if markdown else one_line,
        "md_escape": md_escape,
        "md": md_escape,
        "one_line": one_line,
        "num": _num,
        "pct": _pct,
        "day": day_words,
        "plural": plural,
        "sentence": sentence,
        "kind": categories.tag,
        "category_color": categories.color,
        "tier": _tier,
        "mdlink": _md_link,
        "safe_url": _safe_url,
    }


def _configure(env: jinja2.Environment, markdown: bool) -> jinja2.Environment:
    env.filters.update(_filters(markdown))
    env.globals["plural"] = plural
    return env


@lru_cache(maxsize=4)
def _builtin_environment(fmt: str) -> jinja2.Environment:
    html = fmt == "html"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    return _configure(env, markdown=not html)


def _is_html_name(name: str) -> bool:
    suffixes = [s.lower() for s in Path(name).suffixes]
    return any(s in (".html", ".htm", ".xhtml", ".svg", ".xml") for s in suffixes)


def _user_environment(template: Path, html: bool) -> jinja2.Environment:
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(str(template.parent)),
            jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        ]),
        autoescape=lambda name: html if name == template.name else _is_html_name(name or ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    return _configure(env, markdown=not html)


def _template_line(exc: BaseException) -> int | None:
    """The template line where a render-time error happened (Jinja rewrites tracebacks to point there)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and not frame.filename.endswith(".py") and frame.lineno:
            line = frame.lineno
    return line


def _render_user(template: Path, context: Mapping[str, Any], view: View) -> str:
    path = Path(template).expanduser()
    if not path.is_file():
        raise UsageError(f"template file {path} not found; check the --template path")
    html = _is_html_name(path.name)
    env = _user_environment(path.resolve(), html)
    try:
        compiled = env.get_template(path.name)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or str(path)
        raise UsageError(f"template {where}, line {exc.lineno}: {exc.message}; fix the template syntax") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"template {path} is not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except (jinja2.TemplateNotFound, OSError) as exc:
        raise UsageError(f"template {path} cannot be read: {exc}") from exc
    data = dict(context)
    data.setdefault("view", view)
    try:
        return compiled.render(data)
    except jinja2.TemplateSyntaxError as exc:  # an included template with a syntax error
        raise UsageError(f"template {exc.filename or path}, line {exc.lineno}: {exc.message}; fix the template "
                         "syntax") from exc
    except jinja2.TemplateNotFound as exc:
        raise UsageError(f"template {path}: included template '{exc.name}' not found") from exc
    except Exception as exc:  # any error raised while running user code is the user's to fix
        line = _template_line(exc)
        where = f"template {path}" + (f", line {line}" if line else "")
        kind = "not allowed in a template" if isinstance(exc, jinja2.exceptions.SecurityError) else "error"
        raise UsageError(f"{where}: {kind}: {exc}; see `narrate report --format json` for the available "
                         "fields") from exc


# -- public API --------------------------------------------------------------------------------------------

def render_template(name: str, report: Report | None = None, extra: Mapping[str, Any] | None = None,
                    context: Mapping[str, Any] | None = None, detail: str = "short") -> str:
    """Render a built-in template (``report.md.j2``, ``digest.html.j2``, ``index.md.j2`` ...).

    The format follows the name: ``.html.j2`` templates get HTML autoescaping and charts, others Markdown
    escaping through ``esc``. A report's templates get its context and ``view``; ``extra`` adds variables
    (e.g. a digest's own data) next to them.
    """
    fmt = "html" if _is_html_name(name) else "md"
    env = _builtin_environment(fmt)
    data: dict[str, Any] = {}
    if report is not None:
        data.update(context if context is not None else report.to_context())
        data["view"] = build_view(report, with_charts=fmt == "html", detail=detail)
    data.update(extra or {})
    text = env.get_template(name).render(data)
    if fmt == "md":
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text


def render(report: Report, fmt: str, template: Path | str | None = None, detail: str = "short") -> str:
    """Render ``report`` as ``md``, ``html``, ``json`` or ``term`` (plain text), or with a user template.

    With ``template``, ``fmt`` is ignored: the template file decides (HTML autoescaping for ``.html``/``.htm``).
    Raises ``UsageError`` for an unknown format or a missing/broken user template.
    """
    if template is not None:
        path = Path(template)
        return _render_user(path, report.to_context(), build_view(report, with_charts=_is_html_name(path.name),
                                                                  detail=detail))
    if fmt == "json":
        return context_json(report)  # encoded straight from the dataclasses: no second copy of the context
    if fmt == "term":
        from narrator.report.terminal import render_terminal_text

        return render_terminal_text(report, detail=detail)
    if fmt not in ("md", "html"):
        raise UsageError(f"unknown report format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    return render_template(f"report.{fmt}.j2", report, detail=detail)


def render_chunks(report: Report, fmt: str, template: Path | str | None = None,
                  detail: str = "short") -> Iterator[str]:
    """Like ``render`` but as pieces of text, so large JSON reports are streamed to their destination."""
    if fmt == "json" and template is None:
        return json_chunks(report)
    return iter([render(report, fmt, template, detail)])


def render_context(context: Mapping[str, Any], fmt: str, template: Path | str | None = None) -> str:
    """Render a saved report context (``--format json`` output, parsed) in ``fmt`` or with a user template."""
    return render(Report.from_context(context), fmt, template)


def render_digest(report: Report, fmt: str, digest: Mapping[str, Any], detail: str = "short") -> str:
    """One week's digest: the report's own template, extended with the digest banner and links."""
    return render_template(f"digest.{fmt}.j2", report, {"digest": digest}, detail=detail)


def render_index(entries: Sequence[Mapping[str, Any]], fmt: str, repository: str) -> str:
    text = render_template(f"index.{fmt}.j2", None, {"entries": entries, "repository": repository})
    return text.rstrip() + "\n"
