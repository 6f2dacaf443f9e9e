"""Untrusted text stays inert in every output: real reports of a repository whose commits, file names and
code carry bidi controls, invisible format characters and terminal escape sequences.

Nothing invisible or bidirectional reaches Markdown, HTML or JSON (JSON is checked after decoding, since
``\\u202e`` is the same character to its reader), and no terminal output (the term view, ``explain``, config
strings shown by ``config show``) carries BEL, ESC, CSI, OSC or C1 controls. The one sanitizer is
``narrator.git.text``; these tests go through the real commands.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import run_narrate
from narrator.git.text import INVISIBLE, clean_text, one_line

# Bidi controls named by the issue, then other invisible controls and format characters.
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
        "\u2068", "\u2069"]
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u206a", "\u206f",
              "\ufeff", "\u00ad", "\u180e", "\ufff9", "\ufffb", "\U000e0001", "\U000e0041", "\u3164", "\u115f"]
TERMINAL = ["\x07", "\x1b[31m", "\x1b]0;pwned\x07", "\x1b]8;;https://evil.example/\x1b\\", "\x1bP+q\x1b\\",
            "\x9b31m", "\x1bc", "\x08", "\x7f", "\x85"]
SEPARATORS = ["\u2028", "\u2029"]

HOSTILE = "".join(BIDI + INVISIBLES + TERMINAL + SEPARATORS)
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + "".join(BIDI + INVISIBLES + SEPARATORS) + "]")


def _forbidden(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)})


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


@pytest.fixture
def hostile_repo(make_repo):
    repo = make_repo("hostile")
    repo.commit(f"feat: add the basket {HOSTILE} page\n\nBody {HOSTILE} text",
                {f"src/shop/bas{BIDI[7]}ket{INVISIBLES[0]}.py": '"""Adds \x1b]0;t\x07up \u202eprices."""\nx = 1\n'},
                author=(f"Eve {BIDI[7]}{TERMINAL[1]}", "eve@example.com"))
    repo.commit(f"fix: totals {TERMINAL[2]}{TERMINAL[3]}click{BIDI[0]}", {"src/shop/total.py": "def total():\n    return 1\n"})
    repo.commit("docs: readme", {"README.md": f"# Shop {HOSTILE}\n"})
    return repo


def test_the_sanitizer_removes_every_family():
    for char in BIDI + INVISIBLES:
        assert INVISIBLE.search(char), f"U+{ord(char[0]):04X}"
        assert clean_text("a" + char + "b") == "ab", f"U+{ord(char[0]):04X}"
    for seq in TERMINAL:
        assert clean_text("a" + seq + "b") == "ab", repr(seq)
    assert clean_text("a\u2028b\u2029c") == "a\nb\nc" and one_line("a\u2028b") == "a b"
    assert clean_text("tab\tand\nnewline stay, emoji 👍🏽 and accents é stay") == \
        "tab\tand\nnewline stay, emoji 👍🏽 and accents é stay"


@pytest.mark.parametrize("fmt", ["md", "html", "json", "term"])
def test_hostile_commits_never_reach_any_report_format(hostile_repo, fmt):
    proc = run_narrate("report", "--repo", str(hostile_repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
                       "--format", fmt, "--per-person")
    assert proc.returncode == 0, proc.stderr
    assert not _forbidden(proc.stdout), (fmt, _forbidden(proc.stdout))
    assert "pwned" not in proc.stdout and "evil.example" not in proc.stdout
    if fmt == "json":
        data = json.loads(proc.stdout)
        leaks = [s for s in _strings(data) if _forbidden(s)]
        assert not leaks, leaks[:3]
        assert any("basket" in s for s in _strings(data))  # the words themselves survive


def test_hostile_commits_never_reach_the_commit_view_or_digests(hostile_repo, tmp_path):
    sha = hostile_repo.git("rev-parse", "HEAD~2")
    for args in (["commit", sha, "--repo", str(hostile_repo.path)],
                 ["commit", sha, "--repo", str(hostile_repo.path), "--format", "json"]):
        proc = run_narrate(*args)
        if proc.returncode == 2 and "No such" in proc.stderr:
            pytest.skip("no commit view command")
        assert proc.returncode == 0, proc.stderr
        assert not _forbidden(proc.stdout), _forbidden(proc.stdout)
        if "--format" in args:
            assert not [s for s in _strings(json.loads(proc.stdout)) if _forbidden(s)]
    out = tmp_path / "digests"
    proc = run_narrate("digest", "--repo", str(hostile_repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
                       "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert not _forbidden(path.read_text(encoding="utf-8")), path.name


def test_explain_output_is_inert(hostile_repo):
    for fmt in ("text", "json"):
        proc = run_narrate("explain", "src/shop/total.py:total", "--repo", str(hostile_repo.path), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        assert not _forbidden(proc.stdout)
    hostile_repo.commit("feat: doc", {"src/shop/doc.py":
                                      f'def price():\n    """Works out {HOSTILE} the price."""\n    return 1\n'})
    for fmt in ("text", "json"):
        proc = run_narrate("explain", "src/shop/doc.py:price", "--repo", str(hostile_repo.path), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        assert not _forbidden(proc.stdout), (fmt, _forbidden(proc.stdout))
        text = proc.stdout if fmt == "text" else json.loads(proc.stdout)["text"]
        assert "works out" in text.lower() and not _forbidden(text)


def test_config_strings_are_inert_on_the_terminal(hostile_repo, tmp_path):
    config = tmp_path / "config.toml"
    hostile_category = "Features\x1b]8;;https://evil.example/\x07\u202e<img src=x onerror=alert(1)>"
    config.write_text(
        '[[classify.rules]]\n'
        f'category = {json.dumps(hostile_category)}\nsubject = "basket"\n'
        f'[areas]\n"src/shop/**" = {json.dumps("Shop " + HOSTILE)}\n', encoding="utf-8")
    env = {"NARRATOR_CONFIG_FILE": str(config)}
    show = run_narrate("config", "show", "--repo", str(hostile_repo.path), env=env)
    if show.returncode != 0 and "unknown category" in show.stderr.lower():
        pytest.skip("categories are a closed set here")
    for fmt in ("term", "md", "html", "json"):
        proc = run_narrate("report", "--repo", str(hostile_repo.path), "--since", "2026-11-01", "--until",
                           "2026-11-30", "--format", fmt, env=env)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and not _forbidden(proc.stderr), proc.stderr
            continue
        assert not _forbidden(proc.stdout), (fmt, _forbidden(proc.stdout))
        assert "evil.example" not in proc.stdout
        if fmt == "html":
            assert "<img" not in proc.stdout
    assert not _forbidden(show.stdout) and not _forbidden(show.stderr)


def test_a_repository_config_is_inert_in_every_format_json_included(hostile_repo):
    """Category, area and title strings from the analysed repository's own .narrator.toml: escaped in md/html,
    and stripped of escapes and bidi controls in the decoded JSON and on the terminal (they are untrusted)."""
    category = "Feat\x1b]8;;https://evil.example/\x07<img src=x onerror=alert(1)>\u202e\x1b[31m"
    area = "Shop\x1b]0;pwned\x07<script>alert(2)</script>\u2066"
    title = "Title\x1b]0;pwned\x07<b>x</b>\u202e"
    (hostile_repo.path / ".narrator.toml").write_text(
        f'[[classify.rules]]\ncategory = {json.dumps(category)}\nname = {json.dumps(area)}\nsubject = "basket"\n'
        f'[areas]\n"src/shop/**" = {json.dumps(area)}\n[report]\ntitle = {json.dumps(title)}\n', encoding="utf-8")
    for fmt in ("md", "html", "json", "term"):
        proc = run_narrate("report", "--repo", str(hostile_repo.path), "--since", "2026-11-01", "--until",
                           "2026-11-30", "--format", fmt, "--detail", "full")
        assert proc.returncode == 0, proc.stderr
        assert not _forbidden(proc.stdout), (fmt, _forbidden(proc.stdout))
        assert "evil.example" not in proc.stdout and "pwned" not in proc.stdout, fmt
        if fmt == "html":
            assert "<img" not in proc.stdout and "<script>alert" not in proc.stdout
        if fmt == "json":
            data = json.loads(proc.stdout)
            leaks = [s for s in _strings(data) if _forbidden(s) or "\x1b" in s]
            assert not leaks, leaks[:3]
            assert data["title"] == "Title<b>x</b>"
            assert "Feat<img src=x onerror=alert(1)>" in [c["name"] for c in data["categories"]]


def test_error_lines_and_notes_quoting_a_repository_config_are_inert(hostile_repo):
    hostile_key = "\\u001b]0;pwned\\u0007\\u202ekey"
    for toml in (f'"{hostile_key}" = 1\n', f'[engines.x]\n"{hostile_key}" = 1\n',
                 f'[[classify.rules]]\ncategory = "x"\nsubject = "(a[{hostile_key}"\n'):
        (hostile_repo.path / ".narrator.toml").write_text(toml, encoding="utf-8")
        proc = run_narrate("report", "--repo", str(hostile_repo.path), "--since", "2026-11-01", "--format", "md")
        assert proc.stderr.strip(), toml  # an error (unknown key, bad regex) or a note (a trusted key ignored)
        assert not _forbidden(proc.stderr) and "\x1b" not in proc.stderr, (toml, proc.stderr)
