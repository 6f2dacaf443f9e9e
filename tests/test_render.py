"""Tests of the render stage: Markdown, HTML, JSON, terminal and user templates, from hand-made facts.

Reports are built with the real classifier, heuristic engine and report model from ``CommitFacts`` made
here (no git needed). Hostile commit content must come out escaped and inert in every format.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from narrator.engines.base import NarrationRequest
from narrator.engines.heuristic import HeuristicEngine
from narrator.errors import OutputError, UsageError
from narrator.git.classify import Classifier
from narrator.git.walker import language_of
from narrator.git.facts import CommitFacts, FileChange, Narration, Person
from narrator.report import render as render_module
from narrator.report.aggregate import build_report
from narrator.report.model import PeriodInput, Report
from narrator.report.output import write_atomic
from narrator.report.render import md_escape, render, render_context, template_dirs
from narrator.report.terminal import render_terminal, sparkline

UTC = timezone.utc
SINCE = datetime(2026, 1, 5, tzinfo=UTC)
UNTIL = datetime(2026, 1, 25, 23, 59, 59, tzinfo=UTC)
GENERATED = datetime(2026, 1, 26, 8, 30, tzinfo=UTC)

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![x](http://evil)",
    "{{ 7*7 }}",
    "{% for x in y %}",
    "| table | break |",
    "# heading",
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
    "[bold red]x[/]",
    "- list\n1. item\n> quote",
]
HOSTILE_TEXT = " ".join(HOSTILE)

ALICE = Person("Alice Example", "alice@example.com")
BOB = Person("Bob <b>Bold</b> [bold]", "bob@example.com")
BOT = Person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")

_counter = iter(range(1, 10_000))


def commit(subject: str, when: datetime, *, author: Person = ALICE, files=(("src/app/core.py", 10, 2),),
           merge: bool = False, bot: bool = False, body: str = "") -> CommitFacts:
    n = next(_counter)
    sha = f"{n:040x}"
    return CommitFacts(
        sha=sha, parents=(f"{n + 5000:040x}",) + ((f"{n + 9000:040x}",) if merge else ()),
        author=author, committer=author, authored_at=when, committed_at=when, subject=subject, body=body,
        files=tuple(FileChange(path, added=a, deleted=d, language=language_of(path)) for path, a, d in files),
        is_merge=merge, is_bot=bot, is_revert=subject.lower().startswith("revert"),
    )


def build(commits: list[CommitFacts], *, previous: list[CommitFacts] | None = None, per_person: bool = False,
          narrations: dict[str, str] | None = None, engine: dict | None = None, notes=(), releases=(),
          title: str = "", repository: str = "demo", since: datetime = SINCE, until: datetime = UNTIL) -> Report:
    classifier = Classifier()
    classes = {c.sha: classifier.classify(c) for c in commits + (previous or [])}
    made = HeuristicEngine().narrate([NarrationRequest(c, classes[c.sha]) for c in commits])
    by_sha = {n.sha: n for n in made}
    for sha, text in (narrations or {}).items():  # a model may return anything
        by_sha[sha] = Narration(sha=sha, text=text, engine="model", source="model")
    prev_since = since - (until - since)
    return build_report(
        period=PeriodInput(commits, classes, since, until),
        narrations=by_sha,
        previous=PeriodInput(previous or [], classes, prev_since, since) if previous is not None else None,
        repository=repository, revision="main", tz=UTC, tz_name="UTC", generated_at=GENERATED, title=title,
        per_person=per_person, releases=releases, notes=notes,
        engine=engine or {"name": "heuristic", "fingerprint": "heuristic/1", "prompt_version": "1",
                          "narrations": {"cached": 0, "model": 0, "heuristic": len(commits), "fallback": 0},
                          "headline_source": "facts"},
    )


def day(n: int, hour: int = 10) -> datetime:
    return SINCE + timedelta(days=n, hours=hour)


@pytest.fixture(scope="module")
def normal_report() -> Report:
    commits = [
        commit("feat: add export to spreadsheet", day(1), files=(("src/app/export.py", 120, 4),
                                                               ("tests/test_export.py", 40, 0))),
        commit("fix: crash when the basket is empty", day(2), author=BOB,
               files=(("src/app/basket.py", 8, 3), ("tests/test_basket.py", 12, 0))),
        commit("docs: explain the export", day(2), files=(("docs/export.md", 30, 1),)),
        commit("Merge pull request #12 from bob/fix", day(3), merge=True),
        commit("chore: bump version to 1.2.0", day(4), files=(("pyproject.toml", 1, 1),)),
        commit("build(deps): bump requests from 2.31 to 2.32", day(4), author=BOT, bot=True,
               files=(("requirements.txt", 1, 1),)),
    ]
    previous = [commit("fix: typo", SINCE - timedelta(days=3))]
    return build(commits, previous=previous, releases=[("v1.2.0", commits[4].sha, commits[4].committed_at)],
                 notes=["This is a shallow clone: the history is cut at 2026-01-01, so older work is not counted."])


@pytest.fixture(scope="module")
def hostile_report() -> Report:
    evil_dir = "<b>area</b>[x](javascript:y)"
    commits = [
        commit(f"feat: {h}", day(i % 10), author=BOB if i % 2 else ALICE,
               files=((f"{evil_dir}/f.py", 500, 0), ("src/<script>x</script>.py", 3, 1)), body=HOSTILE_TEXT)
        for i, h in enumerate(HOSTILE)
    ]
    commits.append(commit(f"fix: {HOSTILE_TEXT}", day(11), files=(("src/app/a.py", 2, 1),)))
    commits.append(commit(f"Revert \"{HOSTILE[0]}\"", day(12)))
    commits.append(commit(f"bump {HOSTILE_TEXT}", day(12), author=BOT, bot=True))
    narrations = {c.sha: f"{HOSTILE[i % len(HOSTILE)]} — model said {HOSTILE_TEXT}" for i, c in enumerate(commits[:6])}
    return build(commits, previous=[], per_person=True, narrations=narrations, notes=[HOSTILE_TEXT],
                 releases=[(HOSTILE[0], commits[3].sha, commits[3].committed_at)], title=f"Report {HOSTILE_TEXT}",
                 repository=HOSTILE[1])


@pytest.fixture(scope="module")
def empty_report() -> Report:
    return build([], previous=[])


# -- helpers -------------------------------------------------------------------------------------------------

class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self._heading: str | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag in ("style",):
            self._skip += 1
        if tag in ("h1", "h2", "h3"):
            self._heading = tag
            self.headings.append((tag, ""))

    def handle_endtag(self, tag):
        if tag == "style":
            self._skip -= 1
        if tag in ("h1", "h2", "h3"):
            self._heading = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._heading:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def parse_html(text: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(text)
    parser.close()
    return parser


REPORT_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "p", "h1", "h2", "h3",
               "section", "ul", "li", "span", "strong", "b", "figure", "figcaption", "table", "thead",
               "tbody", "tr", "th", "td", "details", "summary", "footer"}
SVG_TAGS = {"svg", "title", "desc", "g", "text", "rect", "line"}
MARKDOWN_TAGS = {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "table", "thead", "tbody", "tr", "th", "td",
                 "hr"}


def md_to_html(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def render_term(report: Report, **kwargs) -> str:
    buffer = StringIO()
    render_terminal(report, Console(file=buffer, force_terminal=True, width=100, **kwargs))
    return buffer.getvalue()


# -- every format renders --------------------------------------------------------------------------------------

def test_markdown_sections_in_order(normal_report: Report) -> None:
    md = render(normal_report, "md")
    parsed = parse_html(md_to_html(md))
    assert [t for t, _ in parsed.headings if t == "h1"] == ["h1"]
    assert [text for tag, text in parsed.headings if tag == "h2"] == [
        "Highlights", "Where the work went", "Work by category", "Team", "Compared with the previous three weeks",
        "Automated updates", "Notes",
    ]
    assert md.index("**In short:**") < md.index("## Highlights")
    assert "Release v1.2.0 went out on 9 January." in md
    assert "| area | commits | what changed |" in md
    assert "### Features" not in md and "--detail full" in md  # the short report lists no commit by commit
    full = render(normal_report, "md", detail="full")
    assert "### Features (1)" in full and "### Fixes (1)" in full
    assert len(full.splitlines()) > len(md.splitlines())
    assert "2 are merges" not in md and "1 is a merge (1 reviewed contribution)" in md
    assert "1 is an automated update" in md
    assert "shallow clone" in md
    assert "Generated by narrator on 26 January 2026 at 08:30 UTC" in md
    assert "| person |" not in md  # per-person detail only on request
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_html_is_self_contained_and_ordered(normal_report: Report) -> None:
    html = render(normal_report, "html")
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 3
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=", html, re.I)
    assert "@media print" in html and "<style>" in html
    parsed = parse_html(html)
    assert set(parsed.tags) <= REPORT_TAGS | SVG_TAGS
    assert [text for tag, text in parsed.headings if tag == "h2"] == [
        "In short", "Highlights", "Where the work went", "Work by category", "Team",
        "Compared with the previous three weeks", "Automated updates", "Notes",
    ]
    for svg in re.findall(r"<svg[^>]*>", html):
        assert 'role="img"' in svg and "aria-labelledby" in svg
    assert "<details" in html and "<summary>" in html


def test_json_is_full_context(normal_report: Report) -> None:
    out = render(normal_report, "json")
    data = json.loads(out)
    assert data == json.loads(json.dumps(normal_report.to_context()))
    assert data["schema_version"] == normal_report.schema_version
    assert list(data)[0] == "schema_version"
    assert out == render(normal_report, "json")  # stable


def test_terminal_view(normal_report: Report) -> None:
    out = _SGR.sub("", render_term(normal_report))
    for heading in ("In short", "Highlights", "Where the work went", "Team", "Compared with the previous"):
        assert heading in out
    assert "Release v1.2.0 went out." in out
    assert any(ch in out for ch in "▂▃▄▅▆▇█")
    plain = render(normal_report, "term")
    assert "\x1b" not in plain and "Highlights" in plain


def test_unknown_format(normal_report: Report) -> None:
    with pytest.raises(UsageError, match="unknown report format 'pdf'"):
        render(normal_report, "pdf")


def test_numbers_have_thousands_separators() -> None:
    report = build([commit("feat: big import", day(1), files=(("src/app/data.py", 12_345, 1_234),))])
    md = render(report, "md")
    assert "12,345 lines added" in md and "1,234 removed" in md
    assert "12,345" in render(report, "html")


def test_per_person_table_only_on_request(normal_report: Report) -> None:
    commits = [commit("feat: a thing", day(1)), commit("fix: a bug", day(2), author=BOB)]
    report = build(commits, per_person=True)
    assert "| person | commits of work |" in render(report, "md")
    assert "<th>Person</th>" in render(report, "html")
    assert "<th>Person</th>" not in render(normal_report, "html")


def test_engine_footer_counts_model_and_fallback() -> None:
    engine = {"name": "hf", "fingerprint": "hf/x", "prompt_version": "1",
              "narrations": {"cached": 0, "model": 3, "heuristic": 0, "fallback": 1}, "headline_source": "model"}
    report = build([commit("feat: a thing", day(1))], engine=engine)
    md = render(report, "md")
    assert ("Commit descriptions: 3 of 4 written by a small local model of the hf engine; the guard replaced 1 of "
            "its sentences with rule-based ones (not supported by the commit).") in md
    assert "summary at the top was written by the model" in md
    offline = render(build([commit("feat: a thing", day(1))]), "md")
    assert "heuristic engine (offline, rule-based)" in offline


def test_engine_footer_names_the_model_and_what_the_guard_replaced_in_every_format() -> None:
    engine = {"name": "hf", "fingerprint": "hf/x", "prompt_version": "2",
              "model": "SmolLM2-135M-Instruct.Q4_1 + smollm2-cocktail adapter",
              "narrations": {"cached": 0, "model": 12, "heuristic": 0, "fallback": 11, "rejected": 5, "no_code": 2,
                             "merge": 3, "unavailable": 1}, "headline_source": "facts"}
    report = build([commit("feat: a thing", day(1))], engine=engine)
    line = ("Commit descriptions: 12 of 23 written by a small local model (SmolLM2-135M-Instruct.Q4_1 + "
            "smollm2-cocktail adapter, hf engine); the guard replaced 5 of its sentences with rule-based ones (not "
            "supported by the commit); 3 rule-based (merges); 2 rule-based (no code to read); 1 rule-based (the "
            "model could not be reached).")
    assert line in render(report, "md")
    assert line in render(report, "html")
    assert json.loads("".join(render(report, "json")))["engine"]["narrations"]["rejected"] == 5
    from narrator.report.terminal import render_terminal_text

    assert line in " ".join(render_terminal_text(report, width=400).split())
    clean = dict(engine, narrations={"model": 4, "fallback": 0, "rejected": 0})
    assert "the guard replaced none of its sentences with rule-based ones." in render(
        build([commit("feat: a thing", day(1))], engine=clean), "md")
    remote = dict(engine, name="openai", model="qwen2.5-coder:1.5b at http://localhost:11434/v1")
    assert "written by the model (qwen2.5-coder:1.5b at http://localhost:11434/v1, openai engine)" in render(
        build([commit("feat: a thing", day(1))], engine=remote), "md")


def test_long_period_uses_weekly_buckets_and_years() -> None:
    since = datetime(2025, 6, 2, tzinfo=UTC)
    until = datetime(2026, 2, 1, tzinfo=UTC)
    commits = [commit(f"feat: thing {i}", since + timedelta(days=9 * i)) for i in range(20)]
    report = build(commits, since=since, until=until)
    html = render(report, "html")
    assert "Commits per week" in html and html.count("<svg") == 3
    assert "week of" in render(report, "md")
    assert "(2 June 2025, Alice Example)" in render(report, "md", detail="full")  # the year: the period spans two


def test_empty_report(empty_report: Report) -> None:
    md = render(empty_report, "md")
    assert "No activity between 5 January and 25 January 2026" in md
    assert "## Highlights" not in md and "## Team" not in md
    html = render(empty_report, "html")
    assert "No activity between" in html and "<svg" not in html
    assert "No activity between" in render_term(empty_report)
    assert json.loads(render(empty_report, "json"))["empty"] is True


# -- hostile content is inert ---------------------------------------------------------------------------------

def test_hostile_markdown_is_inert(hostile_report: Report) -> None:
    md = render(hostile_report, "md")
    assert "<script" not in md and "<img" not in md and "<b>" not in md
    assert not re.search(r"(?<!\\)\[[^\]]*\]\(", md)  # every link or image opener is escaped
    assert "49" not in md
    assert "\x1b" not in md and "http://evil\x1b" not in md
    assert "{{ 7\\*7 }}" in md  # the text is shown, not evaluated
    rendered = md_to_html(md)
    parsed = parse_html(rendered)
    assert set(parsed.tags) <= MARKDOWN_TAGS, set(parsed.tags) - MARKDOWN_TAGS
    headings = [text for tag, text in parsed.headings if tag == "h2"]
    assert headings == ["Highlights", "Where the work went", "Work by category", "Needs attention", "Team",
                        "Compared with the previous three weeks", "Automated updates", "Notes"]
    # table rows keep their columns: "| table | break |" is escaped inside cells
    tables: list[list[int]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(len(re.findall(r"(?<!\\)\|", line)))
        previous = line
    # two tables in the short report (areas, comparison); the category table is in the full one
    assert len(tables) >= 2 and all(len(set(rows)) == 1 for rows in tables), tables
    assert "<script>alert(1)</script>" in "".join(parsed.text)  # shown as text


def test_hostile_html_is_inert(hostile_report: Report) -> None:
    html = render(hostile_report, "html")
    assert "<script" not in html.lower()
    assert "<img" not in html
    assert "onerror=" not in html.replace("onerror=alert(1)&gt;", "")
    parsed = parse_html(html)
    assert set(parsed.tags) <= REPORT_TAGS | SVG_TAGS, set(parsed.tags) - REPORT_TAGS - SVG_TAGS
    assert not any(name.startswith("on") or name in ("src", "href") for name, _ in parsed.attrs)
    assert not re.search(r"<[^>]*\s(src|href|on\w+)\s*=", html, re.I)
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text and "{{ 7*7 }}" in text
    assert "49" not in text
    assert "\x1b" not in html and "8;;http" not in html  # terminal link sequence removed whole


def test_hostile_terminal_is_inert(hostile_report: Report) -> None:
    out = render_term(hostile_report)
    stripped = _SGR.sub("", out)
    assert "\x1b" not in stripped  # only our own colour codes
    assert "]8;;" not in out and "8;;http" not in out and "link" in stripped
    assert "[bold red]x[/]" in stripped  # rich markup printed literally
    assert "Bob <b>Bold</b> [bold]" in stripped or "Bob <b>Bold</b>" in stripped
    plain = render_term(hostile_report, color_system=None)
    assert "\x1b" not in plain
    assert "\x1b" not in render(hostile_report, "term")


def test_hostile_json_round_trips_escaped(hostile_report: Report) -> None:
    out = render(hostile_report, "json")
    assert "<" not in out and ">" not in out and "&" not in out
    assert "\\u003cscript\\u003e" in out and "\\u001b" in out
    assert json.loads(out) == json.loads(json.dumps(hostile_report.to_context()))
    assert json.loads(out)["title"].startswith("Report <script>")


def test_md_escape_neutralises_block_markers() -> None:
    assert md_escape("- item") == "\\- item"
    assert md_escape("1. item") == "1\\. item"
    assert md_escape("3.1.3") == "3.1.3"
    assert md_escape("> quote") == "\\> quote"
    assert md_escape("deprecate should_ignore_error: a -> b, docs/results.md") == \
        "deprecate should_ignore_error: a -> b, docs/results.md"  # reads clean as plain text
    assert md_escape("# h") == "\\# h"
    assert md_escape("a\nb\r\nc") == "a b c"
    assert md_escape("&lt;b&gt; & co") == "\\&lt;b\\&gt; & co"
    assert md_escape("![x](y)") == "!\\[x\\](y)"
    assert md_escape("dependabot[bot], a[0]") == "dependabot[bot], a[0]"  # no link can form: left as written
    assert md_escape("c](javascript:x)") == "c\\](javascript:x)"  # cannot close another value's "["


# -- user templates -------------------------------------------------------------------------------------------

def test_user_template_renders_from_context(tmp_path: Path, hostile_report: Report) -> None:
    template = tmp_path / "mine.txt.j2"
    template.write_text("{{ repository }}|{{ numbers.commits|num }}|{{ view.team_summary }}|"
                        "{% for h in highlights %}{{ h.text|md_escape }};{% endfor %}\n", encoding="utf-8")
    out = render(hostile_report, "md", template=template)
    assert out.startswith("<img src=x onerror=alert(1)>|")  # text templates are not HTML-escaped
    assert "contributors;" in out
    assert "49" not in out  # commit text is data, never template source


def test_user_html_template_autoescapes(tmp_path: Path, hostile_report: Report) -> None:
    template = tmp_path / "mine.html"
    template.write_text("<h1>{{ title }}</h1>{% for c in commits %}<p>{{ c.subject }}</p>{% endfor %}",
                        encoding="utf-8")
    out = render(hostile_report, "html", template=template)
    assert "<script" not in out and "&lt;script&gt;" in out


def test_user_template_can_import_builtin_macros(tmp_path: Path, normal_report: Report) -> None:
    template = tmp_path / "digest.md.j2"
    template.write_text('{% import "_macros.j2" as m %}{% for e in commits %}{{ m.entry_meta(e) }}\n{% endfor %}',
                        encoding="utf-8")
    assert "Alice Example" in render(normal_report, "md", template=template)


@pytest.mark.parametrize("source, pattern", [
    ("line one\n{% for x in %}\n", r"broken\.j2, line 2: .*fix the template syntax"),
    ("ok\n\n{{ no_such_field }}\n", r"broken\.j2, line 3: .*no_such_field"),
    ("{{ ''.__class__.__mro__ }}", r"broken\.j2"),
    ("{{ numbers.commits.__class__ }}", r"broken\.j2"),
])
def test_broken_user_template(tmp_path: Path, normal_report: Report, source: str, pattern: str) -> None:
    template = tmp_path / "broken.j2"
    template.write_text(source, encoding="utf-8")
    with pytest.raises(UsageError, match=pattern):
        render(normal_report, "md", template=template)


def test_missing_user_template(tmp_path: Path, normal_report: Report) -> None:
    with pytest.raises(UsageError, match="not found"):
        render(normal_report, "md", template=tmp_path / "nope.j2")


def test_builtin_templates_found() -> None:
    dirs = template_dirs()
    assert (dirs[0] / "report.md.j2").is_file() and (dirs[0] / "_macros.j2").is_file()
    assert (dirs[0] / "_style.css.j2").is_file()


def test_render_context_from_json(normal_report: Report) -> None:
    context = json.loads(render(normal_report, "json"))
    assert render_context(context, "md") == render(normal_report, "md")


def test_sparkline() -> None:
    line = sparkline([0, 1, 2, 4])
    assert line[0] == "▁" and line[-1] == "█" and list(line) == sorted(line)
    assert len(sparkline(list(range(300)), width=60)) <= 60
    assert sparkline([]) == "" and sparkline([0, 0]) == "▁▁"


# -- atomic output ---------------------------------------------------------------------------------------------

def test_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    write_atomic(target, "first\n")
    write_atomic(target, "second ünïcode\n")
    assert target.read_text(encoding="utf-8") == "second ünïcode\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write report to .*does not exist"):
        write_atomic(blocker / "report.md", "text")
    with pytest.raises(OutputError, match="is a directory"):
        write_atomic(tmp_path, "text")


def test_write_atomic_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left on device"):
        write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_render_module_has_no_print() -> None:
    for module in ("render.py", "terminal.py", "charts.py", "output.py"):
        source = (Path(render_module.__file__).parent / module).read_text(encoding="utf-8")
        assert "print(" not in source.replace("console.print(", "")


# -- a real context (pallets/flask, 15 January to 20 February 2026) ------------------------------------------

FLASK_CONTEXT = Path(__file__).parent / "fixtures" / "render" / "flask-context.json"


def _contains(big, small) -> bool:
    """``small`` (a context saved by an older narrator) is all there in ``big``, value for value."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _contains(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(_contains(b, x) for b, x in zip(big, small))
    return big == small


def test_real_context_renders_every_format() -> None:
    context = json.loads(FLASK_CONTEXT.read_text(encoding="utf-8"))
    md = render_context(context, "md")
    headings = [text for tag, text in parse_html(md_to_html(md)).headings if tag == "h2"]
    assert headings == ["Highlights", "Where the work went", "Work by category", "Needs attention", "Team",
                        "Compared with the previous five weeks"]
    assert "Release 3.1.3 went out on 19 February." in md
    assert "17 are merges (11 reviewed contributions, 6 branch syncs)" in md
    html = render_context(context, "html")
    assert html.count("<svg") == 3 and "3.1.3" in html
    assert set(parse_html(html).tags) <= REPORT_TAGS | SVG_TAGS
    term = render_context(context, "term")
    assert "In short" in term and "Needs attention" in term
    assert _contains(json.loads(render_context(context, "json")), context)  # newer fields may be added


def test_short_markdown_keeps_to_a_page(hostile_report: Report) -> None:
    """The short report says the categories in one line and names the automated accounts; the full one keeps
    the category table and every automated commit."""
    short, full = render(hostile_report, "md"), render(hostile_report, "md", detail="full")
    assert "| category | commits |" not in short and "| category | commits |" in full
    section = short.split("## Work by category\n", 1)[1].split("\n", 1)[0]
    assert re.fullmatch(r"(?:[A-Za-z &]+ \d+ \(\d+%\); )*[A-Za-z &]+ \d+ \(\d+%\)\.", section), section
    bots = short.split("## Automated updates\n", 1)[1].split("\n\n", 1)[0]
    assert bots.count("\n") == 0 and "by automated accounts (" in bots and "the full report lists them" in bots
    assert full.split("## Automated updates\n", 1)[1].count("\n- ") >= 1


def test_releases_without_notes_are_grouped_only_with_their_neighbours_and_notes_join_cleanly() -> None:
    """A long window keeps its releases in the order they went out: two or more without notes that follow one
    another share a line; a release with notes between them splits the run. Notes are joined by "; " without
    the full stop a note ends with (never ".;"), and the last ends with one stop, "…" included."""
    from narrator.report.render import _builtin_environment
    from narrator.report.view import ReleaseLine, _release_lines

    bare = [ReleaseLine(name, day) for name, day in (("0.1", "16 April 2010"), ("0.2", "1 May 2010"))]
    noted = ReleaseLine("0.3", "27 May 2010", notes=("Added support for send_file.", "Fixed a bug…"))
    later = [ReleaseLine(name, day) for name, day in (("2.0.x", "26 March 2021"), ("3.1.3", "18 February 2026"))]
    lone = ReleaseLine("4.0", "1 March 2026")
    lines = _release_lines([*bare, noted, *later, noted, lone])
    assert [(r.name, r.day, len(r.group)) for r in lines] == [
        ("0.1 and 0.2", "1 May 2010", 2), ("0.3", "27 May 2010", 0), ("2.0.x and 3.1.3", "18 February 2026", 2),
        ("0.3", "27 May 2010", 0), ("4.0", "1 March 2026", 0)]
    macros = _builtin_environment("md").get_template("_macros.j2").module
    assert str(macros.release_notes(noted)) == "It brings: Added support for send_file; Fixed a bug…"
    one = ReleaseLine("1.0", "1 June 2026", notes=("Drop support for Python 3.8.", "Faster startup"))
    assert str(macros.release_notes(one)) == "It brings: Drop support for Python 3.8; Faster startup."


def test_a_long_history_s_releases_end_in_one_line_for_the_earlier_ones(normal_report: Report) -> None:
    """Dozens of releases (a whole history) do not fill the highlights: a short report shows the last
    ``RELEASE_LINES`` and one line for the earlier ones, in every format, with their names escaped; full detail
    lists them all; the JSON keeps every release."""
    from dataclasses import replace

    from narrator.report.model import Release
    from narrator.report.view import RELEASE_LINES

    releases = [Release(f"1.{i}", f"{i + 1} March", normal_report.commits[0].sha, f"2024-03-{i + 1:02d}",
                        notes=[f"Note {i}."]) for i in range(12)]
    releases[0] = replace(releases[0], name="<b>0.1</b>")
    report = replace(normal_report, releases=releases)
    md = render(report, "md")
    assert f"- **{12 - RELEASE_LINES} earlier releases went out, from &lt;b>0.1&lt;/b> (6 January) to 1.5 (6 January).**" \
        in md and "<b>" not in md
    assert md.count("went out") == RELEASE_LINES + 1 and "Release 1.11 went out" in md
    assert render(report, "md", detail="full").count("went out") == 12
    html = render(report, "html")
    assert f"{12 - RELEASE_LINES} earlier releases went out, from &lt;b&gt;0.1&lt;/b&gt;" in html and "<b>0.1" not in html
    term = _SGR.sub("", render_term(report))
    assert f"{12 - RELEASE_LINES} earlier releases went out" in term
    assert len(json.loads(render(report, "json"))["releases"]) == 12


def test_only_version_tags_are_releases_and_a_development_start_is_none(normal_report: Report) -> None:
    """A report's releases are the tags that name a version: numpy's "v2.1.0.dev0" (the start of 2.1.0's
    development), a "with_maskna" marker and a moving "stable" are not releases; a release candidate is one
    until its final release is in the window too."""
    commits = [commit("feat: add export to spreadsheet", day(1), files=(("src/app/export.py", 120, 4),)),
               commit("chore: bump version to 1.2.0", day(2), files=(("pyproject.toml", 1, 1),))]
    when = commits[1].committed_at
    names = ["with_maskna", "stable", "v2.1.0.dev0", "6.0.0-rc2", "6.0.0", "7.0.0-rc1", "2024-05-01", "v1.2.3b1"]
    report = build(commits, previous=[], releases=[(name, commits[1].sha, when) for name in names])
    assert [r.name for r in report.releases] == ["6.0.0", "7.0.0-rc1", "2024-05-01", "v1.2.3b1"]
    md = render(report, "md")
    assert "dev0" not in md and "with_maskna" not in md and "stable" not in md


def test_an_area_topic_never_ends_inside_parentheses() -> None:
    """An area's "what changed" topic is a subject's first clause, but not one a ';' inside parentheses ends
    ("--to (finished weeks once each" was shown), and a cut at the word limit never leaves a '(' open."""
    from narrator.report.model import _topic

    assert _topic("--to (finished weeks once each; failed ones retried) for digests and reports, with a ledger") \
        == "--to (finished weeks once each; failed ones retried) for…"
    assert _topic("Add (a b c d e f g h i j k) thing") == "Add…"
    assert _topic("fix the parser. Then more") == "Fix the parser"
    assert _topic("Add support (experimental) for the QUERY method") == "Add support (experimental) for the QUERY method"
