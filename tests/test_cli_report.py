"""`narrate report` and `narrate commit` end to end, as a user runs them, including every bad input."""

from __future__ import annotations

import hashlib
import json
import re
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BASE_DATE, GitRepo, run_narrate

WINDOW = ["--since", "2026-11-01", "--until", "2026-11-30"]


def snapshot(path: Path) -> dict[str, str]:
    """Every file under the repository (work tree and .git) with its content hash and mode."""
    out = {}
    for item in sorted(path.rglob("*")):
        if item.is_file() and not item.is_symlink():
            out[str(item.relative_to(path))] = hashlib.sha1(item.read_bytes()).hexdigest() + oct(item.stat().st_mode)
    return out


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("narrate: error: ")
    return lines[0]


@pytest.fixture
def team_repo(make_repo) -> GitRepo:
    repo = make_repo("team")
    repo.commit("Add login page", {"src/web/login.py": "def login():\n    return True\n"})
    repo.commit("fix: crash when the password is empty", {"src/web/login.py": "def login(p=''):\n    return bool(p)\n",
                                                           "tests/test_login.py": "def test():\n    pass\n"},
                author=("Grace Hopper", "grace@example.com"))
    repo.commit("docs: explain sign-in", {"docs/signin.md": "# Sign in\n"})
    repo.commit("Bump requests from 2.31.0 to 2.32.0", {"requirements.txt": "requests==2.32.0\n"},
                author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Add export to CSV", {"src/web/export.py": "def export():\n    return ''\n"})
    repo.git("checkout", "-q", "main")
    repo.merge("feature", "Merge pull request #12 from grace/export")
    return repo


def test_report_markdown_has_the_facts(team_repo):
    before = snapshot(team_repo.path)
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "md")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar or chatter when stderr is not a terminal
    text = proc.stdout
    assert "Added login page" in text
    assert "crash when the password is empty" in text
    assert "Added export to CSV" in text  # work merged from a branch counts once, as work
    assert "dependabot" in text  # listed apart, as automated
    assert snapshot(team_repo.path) == before  # the analysed repository is never written to


def test_report_json_context(team_repo):
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    ctx = json.loads(proc.stdout)
    assert ctx["schema_version"] == 1
    n = ctx["numbers"]
    assert n["commits"] == 6 and n["merges"] == 1 and n["pr_merges"] == 1 and n["bot_commits"] == 1
    assert n["work_commits"] == 4 and n["contributors"] == 2
    assert {c["name"] for c in ctx["categories"]} >= {"Features", "Fixes", "Documentation"}
    assert ctx["comparison"] is not None
    assert ctx["engine"]["name"] == "heuristic"


def test_report_filters(team_repo):
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json", "--author", "grace",
                       "--no-merges")
    ctx = json.loads(proc.stdout)
    assert [c["author"] for c in ctx["commits"]] == ["Grace Hopper"]
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json", "--path", "docs/**")
    assert [c["subject"] for c in json.loads(proc.stdout)["commits"]] == ["docs: explain sign-in"]
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json", "--exclude", "src/**",
                       "--exclude", "docs/**", "--exclude", "tests/**", "--no-merges")
    assert [c["subject"] for c in json.loads(proc.stdout)["commits"]] == ["Bump requests from 2.31.0 to 2.32.0"]
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json", "--branch", "feature")
    assert "Add export to CSV" in [c["subject"] for c in json.loads(proc.stdout)["commits"]]
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json", "--include-bots")
    assert json.loads(proc.stdout)["numbers"]["bot_commits"] == 0


def test_output_file_html_and_cache_reuse(team_repo, tmp_path, isolated_env):
    out = tmp_path / "report.html"
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html
    cache_files = list((isolated_env / "cache").glob("*.sqlite3"))
    assert cache_files, "the cache lives in NARRATOR_CACHE_DIR"
    assert not any(p.name.endswith(".sqlite3") for p in team_repo.path.rglob("*"))
    # A rerun uses the cache: every narration comes back from it.
    again = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json")
    assert json.loads(again.stdout)["engine"]["narrations"]["cached"] == 6


def test_user_template(team_repo, tmp_path):
    template = tmp_path / "mine.txt.j2"
    template.write_text("{{ repository }}: {{ numbers.commits }} commits\n{% for c in commits %}- {{ c.subject }}\n{% endfor %}")
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--template", str(template))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("team: 6 commits")


def test_empty_window_is_a_short_report(team_repo):
    proc = run_narrate("report", "--repo", str(team_repo.path), "--since", "2020-01-01", "--until", "2020-01-31",
                       "--format", "md")
    assert proc.returncode == 0, proc.stderr
    assert "No activity" in proc.stdout


def test_hostile_commit_messages_are_inert_everywhere(make_repo, tmp_path):
    repo = make_repo("hostile")
    repo.commit("<script>alert(1)</script> {{ 7*7 }} {% raw %} [x](javascript:alert(1)) \x1b[31mred",
                {"src/a.py": "x = 1\n"})
    repo.commit("# Heading | cell | ![img](http://evil.example/x.png) <img src=x onerror=alert(1)>",
                {"src/b.py": "y = 2\n"})
    md = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md",
                     env={"SOURCE_DATE_EPOCH": "1767225600"})  # generated at 00:00, so "49" can only be {{ 7*7 }}
    assert md.returncode == 0, md.stderr
    assert "<script" not in md.stdout and "<img" not in md.stdout
    assert not re.search(r"(?<!\\)\[[^\]]*\]\(", md.stdout)  # every link or image opener is escaped
    assert "49" not in md.stdout and "\x1b" not in md.stdout
    html_out = tmp_path / "r.html"
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "html", "--output", str(html_out))
    assert proc.returncode == 0, proc.stderr
    html = html_out.read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    js = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "json")
    ctx = json.loads(js.stdout)
    assert any("<script>" in c["subject"] for c in ctx["commits"]) and "<script" not in js.stdout
    term = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "term")
    assert term.returncode == 0 and "\x1b[31mred" not in term.stdout


@pytest.mark.parametrize("args, code, message", [
    (["--since", "whenever"], 2, "cannot understand --since"),
    (["--since", "2026-11-20", "--until", "2026-11-01"], 2, "is after --until"),
    (["--branch", "nope"], 2, "unknown branch or revision 'nope'"),
    (["--branch", "main", "--all-branches"], 2, "cannot be used together"),
    (["-o", "report.docx"], 2, "cannot write -o report.docx"),
    (["--engine", "nonesuch"], 1, "unknown engine 'nonesuch'"),
])
def test_usage_errors(team_repo, args, code, message):
    proc = run_narrate("report", "--repo", str(team_repo.path), *args)
    assert proc.returncode == code
    assert message in one_line_error(proc)


def test_not_a_repository_and_empty_repository(tmp_path, make_repo):
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_narrate("report", cwd=plain)
    assert proc.returncode == 1 and "not a git repository" in one_line_error(proc)
    empty = make_repo("empty")
    proc = run_narrate("report", "--repo", str(empty.path))
    assert proc.returncode == 1 and "no commits yet" in one_line_error(proc)


def test_unwritable_output_leaves_no_file(team_repo, tmp_path):
    missing_dir = tmp_path / "nope" / "report.md"
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--output", str(missing_dir))
    assert proc.returncode == 1 and "does not exist" in one_line_error(proc)
    assert not missing_dir.exists()
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--output", str(tmp_path))
    assert proc.returncode == 1 and "is a directory" in one_line_error(proc)
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--output", str(locked / "r.md"))
        assert proc.returncode == 1 and "permission denied" in one_line_error(proc)
        assert list(locked.iterdir()) == []


def test_bare_shallow_and_detached(make_repo, tmp_path, team_repo):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(team_repo.path), str(bare)], check=True)
    proc = run_narrate("report", "--repo", str(bare), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["numbers"]["commits"] == 6
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{team_repo.path}", str(shallow)], check=True)
    proc = run_narrate("report", "--repo", str(shallow), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert any("shallow clone" in note for note in json.loads(proc.stdout)["notes"])
    team_repo.git("checkout", "-q", "--detach", "HEAD~1")
    proc = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json")
    assert proc.returncode == 0 and "detached" in json.loads(proc.stdout)["revision"]


def test_binary_and_non_utf8_commits_report_fine(make_repo):
    repo = make_repo("odd")
    repo.commit("Add logo", {"assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary"})
    repo.commit(b"Caf\xe9 menu update\n", {"menu.txt": "coffee\n"})
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "md")
    assert proc.returncode == 0, proc.stderr
    assert "logo" in proc.stdout and "menu update" in proc.stdout


def test_commit_command(team_repo):
    proc = run_narrate("commit", "HEAD~1", "--repo", str(team_repo.path), "--format", "md")
    assert proc.returncode == 0, proc.stderr
    assert "Bumped" in proc.stdout or "Updated requests" in proc.stdout
    assert "requirements.txt" in proc.stdout
    proc = run_narrate("commit", "HEAD", "--repo", str(team_repo.path), "--format", "json")
    data = json.loads(proc.stdout)
    assert data["facts"]["is_merge"] and data["classification"]["category"] == "Merges"
    proc = run_narrate("commit", "deadbeef", "--repo", str(team_repo.path))
    assert proc.returncode == 2 and "unknown branch or revision" in one_line_error(proc)


def test_help_and_version_do_not_import_torch():
    code = ("import sys; from narrator.cli import cli; "
            "import click.testing as t; r = t.CliRunner().invoke(cli, ['report', '--help']); "
            "assert r.exit_code == 0, r.output; assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([os.sys.executable, "-c", code], check=True)
    proc = run_narrate("--version")
    assert proc.returncode == 0 and "narrate" in proc.stdout
    for command in (["report"], ["commit"], ["config", "show"]):
        assert run_narrate(*command, "--help").returncode == 0


def test_config_show_lists_sources(team_repo):
    (team_repo.path / ".narrator.toml").write_text('[report]\nlarge_change_lines = 50\n')
    proc = run_narrate("config", "show", "--repo", str(team_repo.path))
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if l.startswith("report.large_change_lines"))
    assert "50" in line and ".narrator.toml" in line
    (team_repo.path / ".narrator.toml").write_text('[report]\nlarge_change_lines = "many"\n')
    proc = run_narrate("report", "--repo", str(team_repo.path))
    assert proc.returncode == 2 and "large_change_lines" in one_line_error(proc)


def test_progress_bar_only_for_long_work_on_a_terminal(monkeypatch):
    from narrator.cli import RichProgress

    quiet = RichProgress(enabled=False)
    quiet.start("Reading history", 10)
    quiet.advance(10)
    quiet.stop()
    assert quiet._bar is None
    fast = RichProgress(enabled=True)
    fast.start("Reading history", 10)
    fast.advance(5)  # well under a second: no bar yet
    assert fast._bar is None
    fast.stop()


def test_damaged_older_history_costs_only_the_comparison(make_repo):
    repo = make_repo("damaged")
    repo.commit("Old work", {"old.txt": "precious old content\n"}, when=datetime(2026, 10, 10, tzinfo=timezone.utc))
    repo.commit("New work", {"new.txt": "fresh\n"}, when=datetime(2026, 11, 10, tzinfo=timezone.utc))
    blob = repo.git("rev-parse", "HEAD~1:old.txt")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # a lost object, as in a broken clone
    proc = run_narrate("report", "--repo", str(repo.path), *WINDOW, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    ctx = json.loads(proc.stdout)
    assert [c["subject"] for c in ctx["commits"]] == ["New work"]
    assert ctx["comparison"] is None and any("could not be read" in n for n in ctx["notes"])
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-10-01", "--until", "2026-10-31")
    assert proc.returncode == 1 and "unable to read" in one_line_error(proc)


def test_cached_heuristic_sentences_follow_a_new_area_mapping(team_repo):
    first = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json")
    assert any("in src/web" in c["narration"] for c in json.loads(first.stdout)["commits"])
    (team_repo.path / ".narrator.toml").write_text('[areas]\n"src/web/**" = "Website"\n')
    second = run_narrate("report", "--repo", str(team_repo.path), *WINDOW, "--format", "json")
    narrations = [c["narration"] for c in json.loads(second.stdout)["commits"]]
    assert any("in Website" in n for n in narrations) and not any("src/web" in n for n in narrations)


def test_a_closed_stdout_pipe_ends_quietly(make_repo):
    """`narrate report | head -c 10`: the reader goes away mid-output; no BrokenPipeError, no traceback."""
    import subprocess
    import sys

    repo = make_repo("big")
    stream = []
    for i in range(1500):  # ~1 MB of JSON: far more than a pipe holds
        stamp = int(BASE_DATE.timestamp()) + i * 60
        data = f"v = {i}\n".encode()
        stream.append(f"commit refs/heads/main\ncommitter Ann <ann@example.com> {stamp} +0000\n"
                      f"data {len(f'Change number {i}')}\nChange number {i}\n"
                      + f"M 100644 inline src/f{i % 40}.py\ndata {len(data)}\n{data.decode()}\n")
    repo.git("fast-import", "--quiet", input="".join(stream).encode())
    repo.git("checkout", "-q", "main")
    writer = subprocess.Popen([sys.executable, "-m", "narrator", "report", "--repo", str(repo.path), "--since",
                               "2026-11-01", "--until", "2026-11-30", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout.read(10) == b'{"schema_v'
    writer.stdout.close()  # like `head` exiting after its first bytes
    _, err = writer.communicate(timeout=300)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err, err
    assert writer.returncode == 141, (writer.returncode, err)


@pytest.mark.parametrize("fmt", ["md", "html", "json", "term"])
def test_a_stdout_pipe_closed_before_any_output_ends_quietly_in_every_format(make_repo, fmt):
    """The reader is gone before the first byte (`narrate report | true`): exit 141 and nothing on stderr in every
    format (the terminal view exited 1 through rich's own broken-pipe handling)."""
    import subprocess
    import sys

    repo = make_repo("piped")
    for i in range(3):
        repo.commit(f"feat: change {i}", {f"src/f{i}.py": f"v = {i}\n"})
    writer = subprocess.Popen([sys.executable, "-m", "narrator", "report", "--repo", str(repo.path), "--since",
                               "2026-11-01", "--until", "2026-11-30", "--format", fmt, "--detail", "full"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer.stdout.close()
    _, err = writer.communicate(timeout=300)
    assert not err.strip(), err
    assert writer.returncode == 141, (fmt, writer.returncode)
