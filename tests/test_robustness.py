"""Extremes, hostile servers and damaged state: each ends in one clear line and a non-zero exit, never a hang,
a crash handler message or a broken cache.

Covers the openai engine's transport (answer size cap with flat memory, a deadline per request, malformed and
credential-carrying base URLs), user regexes and globs that backtrack catastrophically, extreme dates,
tampered or newer caches, ``-o`` onto the cache, a pipe or a device, stale temporary files, and an
unreadable ``.git``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from narrator.engines.openai import OpenAIEngine, display_url
from narrator.errors import EngineError

ROOT = Path(__file__).resolve().parents[1]


# -- hostile model servers ---------------------------------------------------------------------------------

class HostileServer:
    """A local server whose POST answer is produced by ``behaviour(handler)``."""

    def __init__(self, behaviour):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    behaviour(self)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.server = server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    servers = []

    def start(behaviour):
        servers.append(HostileServer(behaviour))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _huge(with_length: bool):
    size = 256 << 20
    chunk = b'{"choices": [{"message": {"content": "' + b"a" * (1 << 20)

    def behaviour(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if with_length:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        sent = 0
        while sent < size:
            handler.wfile.write(chunk)
            sent += len(chunk)

    return behaviour


_RSS_PROBE = """
import json, resource, sys, time
from narrator.engines.openai import OpenAIEngine
from narrator.errors import EngineError
engine = OpenAIEngine({"base_url": sys.argv[1], "model": "tiny", "api_key_env": "", "timeout_s": 60, "retries": 0})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    engine._complete("hello")
    error = None
except EngineError as exc:
    error = str(exc)
print(json.dumps({"before_kib": before, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - start, "error": error}))
"""


@pytest.mark.parametrize("with_length", [False, True], ids=["streamed", "content-length"])
def test_a_256_mib_answer_is_refused_with_flat_memory(hostile, with_length):
    server = hostile(_huge(with_length))
    proc = subprocess.run([sys.executable, "-c", _RSS_PROBE, server.url], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"256 MiB answer ({'with' if with_length else 'without'} Content-Length): peak RSS "
          f"{result['peak_kib'] / 1024:.1f} MiB, {(result['peak_kib'] - result['before_kib']) / 1024:.1f} MiB above "
          f"the engine at rest, {result['seconds']:.2f} s")
    assert result["error"] and "answered more than 1 MiB" in result["error"] and "\n" not in result["error"]
    assert result["peak_kib"] - result["before_kib"] < 16 * 1024


def _trickle(phase: str):
    def behaviour(handler):
        if phase == "headers":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 200:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.5)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.flush()
        for byte in json.dumps({"choices": [{"message": {"content": "x" * 200}}]}).encode():
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.5)

    return behaviour


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_the_timeout_bounds_the_whole_request_not_each_read(hostile, phase):
    server = hostile(_trickle(phase))
    engine = OpenAIEngine({"base_url": server.url, "model": "tiny", "api_key_env": "", "timeout_s": 2,
                           "retries": 0})
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"no answer within 2 s after 1 tries"):
        engine._complete("hello")
    elapsed = time.monotonic() - started
    print(f"trickling {phase}: gave up after {elapsed:.2f} s (timeout_s = 2)")
    assert 1.9 <= elapsed < 3.0
    engine = OpenAIEngine({"base_url": server.url, "model": "tiny", "api_key_env": "", "timeout_s": 1,
                           "retries": 1, "backoff_s": 0})
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"no answer within 1 s after 2 tries"):
        engine._complete("hello")
    assert time.monotonic() - started < 3.0  # each try has its own deadline


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/v1", "http://localhost:99999/v1", "localhost:11434",
                                 "ftp://host/v1", "http:///v1"])
def test_malformed_base_urls_are_one_clear_line(url):
    with pytest.raises(EngineError) as info:
        OpenAIEngine({"base_url": url, "model": "tiny"})
    message = str(info.value)
    assert "engines.openai.base_url" in message and "\n" not in message and len(message) < 300
    status = OpenAIEngine.status({"base_url": url, "model": "tiny"})  # `narrate engines` must not crash either
    assert "engines.openai.base_url" in status.detail


def _answer_503(handler):
    """A server that refuses every request with 503 and an empty JSON body."""
    handler.send_response(503)
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"{}")


def test_a_password_in_base_url_is_never_printed(hostile, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    seen = {}

    def refuse(handler):
        seen["auth"] = handler.headers.get("Authorization")
        _answer_503(handler)

    server = hostile(refuse)
    secret = "Hunter2-pw"
    url = server.url.replace("http://", f"http://ada:{secret}@")
    engine = OpenAIEngine({"base_url": url, "model": "tiny", "api_key_env": "", "timeout_s": 2, "retries": 1,
                           "backoff_s": 0})
    with pytest.raises(EngineError) as info:
        engine._complete("hello")
    status = OpenAIEngine.status({"base_url": url, "model": "tiny", "api_key_env": ""})
    printed = "\n".join([str(info.value), status.detail, *(r.getMessage() for r in caplog.records)])
    assert secret not in printed and "ada:***@" in printed
    assert seen["auth"].startswith("Basic ")  # the credentials are used, as HTTP Basic auth
    # and also for URLs that do not parse, and for token-only user info
    assert secret not in display_url(f"http://ada:{secret}@[::1") and "ada:***@" in display_url(f"http://ada:{secret}@[::1")
    assert display_url("https://tok3n@example.com/v1") == "https://***@example.com/v1"
    with pytest.raises(EngineError) as bad:
        OpenAIEngine({"base_url": f"http://ada:{secret}@[::1", "model": "tiny"})
    assert secret not in str(bad.value)


def test_a_password_in_base_url_is_never_printed_by_any_command(hostile, make_repo, tmp_path):
    """Through the real commands: report, explain, engines and config show (which printed it whole)."""
    server = hostile(_answer_503)
    secret = "Hunter2-pw"
    url = server.url.replace("http://", f"http://ada:{secret}@")
    config = tmp_path / "openai.toml"
    config.write_text(f'[engines.openai]\nbase_url = "{url}"\nmodel = "tiny"\napi_key_env = ""\nretries = 0\n'
                      f'timeout_s = 2\n[engines.shout]\napi_key = "{secret}"\n', encoding="utf-8")
    repo = make_repo("pw")
    repo.commit("feat: prices", {"src/price.py": "def price():\n    return 1\n"})
    env = {"NARRATOR_CONFIG_FILE": str(config)}
    runs = [run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--engine", "openai", env=env),
            run_narrate("explain", "src/price.py:price", "--repo", str(repo.path), "--engine", "openai", env=env),
            run_narrate("engines", "--repo", str(repo.path), env=env),
            run_narrate("config", "show", "--repo", str(repo.path), env=env)]
    for proc in runs:
        assert secret not in proc.stdout + proc.stderr, proc.args
        assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
    assert "ada:***@" in runs[2].stdout + runs[2].stderr and "ada:***@" in runs[3].stdout
    assert 'engines.shout.api_key = "***"' in runs[3].stdout


def test_a_base_url_with_a_space_is_one_clear_line():
    with pytest.raises(EngineError, match="contains a space"):
        OpenAIEngine({"base_url": "http://ada:pw@127.0.0.1:1/v1 extra", "model": "tiny"})


# -- catastrophic user regexes and globs -------------------------------------------------------------------

from conftest import BASE_DATE, GitRepo, run_narrate  # noqa: E402


def _narrate(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """The real command in a subprocess with a time limit: a hang fails the test instead of the suite."""
    return subprocess.run([sys.executable, "-m", "narrator", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8",
                                                **(env or {})})


def _one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr
    return lines[0]


@pytest.fixture
def small_repo(make_repo) -> GitRepo:
    repo = make_repo("small")
    # a directory of 59 a's: one short of what a 60-star glob "*a*a...*a" needs, the worst case for backtracking
    repo.commit("feat: " + "a" * 60 + "!", {"src/" + "a" * 59 + "/mod.py": "x = 1\n"})
    repo.commit("fix: the login page", {"src/app/login.py": "def login():\n    return True\n"})
    return repo


def _user_config(tmp_path: Path, text: str) -> dict[str, str]:
    config = tmp_path / "user-config.toml"
    config.write_text(text, encoding="utf-8")
    return {"NARRATOR_CONFIG_FILE": str(config)}


def test_a_catastrophic_subject_regex_is_a_clear_error_not_a_hang(small_repo, tmp_path):
    env = _user_config(tmp_path, '[[classify.rules]]\ncategory = "Fixes"\nsubject = "^(a|aa)+$"\n')
    started = time.monotonic()
    proc = _narrate("report", "--since", "2026-11-01", "--until", "2026-11-30", "--format", "json",
                    cwd=small_repo.path, env=env)
    elapsed = time.monotonic() - started
    line = _one_line(proc)
    print(f"catastrophic subject regex: refused after {elapsed:.1f} s")
    assert "classify.rules entry 1" in line and str(tmp_path / "user-config.toml") in line
    assert "takes too long" in line and elapsed < 30


def test_an_area_glob_with_60_stars_does_not_hang(small_repo, tmp_path):
    glob = "src/" + "*a" * 60 + "/**"  # 60 stars in one segment: a backtracking regex never ends on a miss
    deep = "**/a" * 30 + "/**"  # 31 '**' segments
    env = _user_config(tmp_path, f'[areas]\n"{glob}" = "Starry"\n"{deep}" = "Deep"\n"src/app/**" = "App"\n')
    started = time.monotonic()
    proc = _narrate("report", "--since", "2026-11-01", "--until", "2026-11-30", "--format", "json",
                    cwd=small_repo.path, env=env)
    elapsed = time.monotonic() - started
    print(f"60-star area glob: report in {elapsed:.1f} s")
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 30 and "App" in proc.stdout


def test_pathological_globs_and_regexes_in_process_are_fast():
    from narrator.errors import ConfigError
    from narrator.git.classify import Classifier, path_matches
    from narrator.safe_regex import compile_user_regex

    cases = [("*a" * 60 + "b", "a" * 5000), ("**/a/" * 30 + "b", "a/" * 3000), ("*" * 200 + "z", "x/" * 2000),
             ("?*" * 100 + "z", "y" * 4000)]
    for glob, path in cases:
        started = time.perf_counter()
        assert not path_matches(path, [glob])
        assert time.perf_counter() - started < 1.0, glob[:20]
    assert path_matches("src/a/b/c.py", ["src/**/*.py"]) and path_matches("x.md", ["**/*.md"])
    pattern = compile_user_regex("(x+x+)+y", "classify.rules entry 3", "/home/ada/.config/narrator/config.toml")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"classify.rules entry 3 in /home/ada/.config/narrator/config.toml.*too long"):
        for _ in range(100):
            pattern.search("x" * 5000)
    assert time.perf_counter() - started < 5.0
    with pytest.raises(ConfigError, match=r"classify.rules entry 1 in a.toml: invalid subject regex"):
        Classifier([{"category": "Fixes", "subject": "(unclosed"}], source="a.toml")


# -- extreme dates -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("window", [
    ["--since", "0001-01-01"], ["--until", "9999-12-31"], ["--since", "0001-01-01", "--until", "9999-12-31"],
    ["--since", "0001-01-01T00:00+14:00"], ["--until", "9999-12-31T23:59-12:00"],
    ["--since", "2099-12-01", "--until", "9999-12-31"], ["--since", "0001-01-01", "--until", "0001-02-01"],
])
@pytest.mark.parametrize("fmt", ["json", "md", "html", "term"])
def test_calendar_edges_give_a_report(small_repo, window, fmt):
    proc = run_narrate("report", "--repo", str(small_repo.path), *window, "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        data = json.loads(proc.stdout)
        spans_commits = window[1].startswith("0001-01-01") and (len(window) == 2 or window[3].startswith("9999"))
        assert data["numbers"]["commits"] == (2 if spans_commits else 0)


@pytest.mark.parametrize("value", ["99999999999d", "999999999w", "9999999y", "99999999999999999999h",
                                   "99999999999999999999999999999999999999y", "100000mo"])
def test_absurd_durations_are_one_clear_line(small_repo, value):
    proc = run_narrate("report", "--repo", str(small_repo.path), "--since", value)
    line = _one_line(proc)
    assert f"--since '{value}'" in line and proc.returncode == 2


def test_until_before_the_calendar_needs_a_start_inside_it(small_repo):
    line = _one_line(run_narrate("report", "--repo", str(small_repo.path), "--until", "0001-01-01"))
    assert "--since '2w' is too far in the past" in line


def test_digest_at_the_calendar_edges(small_repo, tmp_path):
    proc = run_narrate("digest", "--repo", str(small_repo.path), "--since", "0001-01-01", "--until", "0001-02-01",
                       "--out", str(tmp_path / "digests"))
    assert proc.returncode == 0 or (len([ln for ln in proc.stderr.splitlines() if ln.strip()]) == 1
                                    and "Traceback" not in proc.stderr and "unexpected" not in proc.stderr), proc.stderr


def test_any_number_of_digest_weeks_is_quick_and_correct(small_repo, tmp_path):
    """--weeks 99999999999 (or digest.weeks in a config) was an OverflowError; now the weeks before the first
    commit are counted, not built."""
    started = time.monotonic()
    proc = run_narrate("digest", "--repo", str(small_repo.path), "--weeks", "99999999999", "--out",
                       str(tmp_path / "digests"))
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 30
    assert "week(s) before the first commit" in proc.stdout + proc.stderr
    (small_repo.path / ".narrator.toml").write_text("[digest]\nweeks = 99999999999\n", encoding="utf-8")
    proc = run_narrate("digest", "--repo", str(small_repo.path), "--out", str(tmp_path / "digests"))
    assert proc.returncode == 0, proc.stderr


# -- a damaged or newer cache --------------------------------------------------------------------------------

def _cache_db(env_home: Path) -> Path:
    return Path(os.environ["NARRATOR_CACHE_DIR"]) / "cache.sqlite3"


@pytest.mark.parametrize("damage", ["not json", '{"sha": "x"}', "[1, 2, 3]", '{"files": 7}', "null"])
def test_a_tampered_cache_row_is_ignored_and_recomputed(small_repo, damage, caplog):
    import logging
    import sqlite3

    first = run_narrate("report", "--repo", str(small_repo.path), "--since", "2026-11-01", "--format", "json")
    assert first.returncode == 0, first.stderr
    db = sqlite3.connect(_cache_db(Path()))
    assert db.execute("UPDATE facts SET data = ?", (damage,)).rowcount >= 2
    assert db.execute("UPDATE narrations SET data = ?", (damage,)).rowcount >= 1
    db.commit()
    db.close()
    caplog.set_level(logging.DEBUG, logger="narrator.cache")
    second = run_narrate("report", "--repo", str(small_repo.path), "--since", "2026-11-01", "--format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["numbers"] == json.loads(first.stdout)["numbers"]
    assert any("damaged" in r.getMessage() for r in caplog.records)
    db = sqlite3.connect(_cache_db(Path()))
    assert all(row[0].startswith("{") and row[0] != damage for row in db.execute("SELECT data FROM facts"))
    db.close()


@pytest.fixture
def changelog_repo(make_repo) -> GitRepo:
    repo = make_repo("changelog")
    repo.commit("feat: add totals", {"src/shop/total.py": "def total():\n    return 1\n"})
    repo.commit("fix: price rounding", {"src/shop/price.py": "def price():\n    return 2\n",
                                        "CHANGELOG.md": "# Changelog\n\n## Unreleased\n\n### Fixed\n\n"
                                                        "- Prices are rounded to the cent.\n"})
    return repo


# Rows that decode as JSON but hold values of the wrong type, or name another commit: each table narrator reads.
TAMPERED = [
    "UPDATE records SET data = json_set(data, '$.category', json('[1, 2]'))",
    "UPDATE records SET data = json_set(data, '$.category', 'Reverts')",
    "UPDATE records SET data = json_set(data, '$.source_churn', 'x')",
    "UPDATE records SET data = json_set(data, '$.sha', 9)",
    "UPDATE records SET data = json_set(data, '$.subject', json('[1]'))",
    "UPDATE records SET data = json_set(data, '$.entries', json('[5]'))",
    "UPDATE records SET data = json_set(data, '$.entries[0].line', 'x')",
    "UPDATE records SET data = json_set(data, '$.signals', json('[{\"kind\": 5}]'))",
    "UPDATE narrations SET data = json_set(data, '$.text', 5)",
    "UPDATE narrations SET data = json_set(data, '$.sha', 'abc')",
    "UPDATE facts SET data = json_set(data, '$.subject', json('{\"a\": 1}'))",
    "UPDATE facts SET data = json_set(data, '$.files[0].added', 'x')",
    "UPDATE facts SET data = json_set(data, '$.sha', 'abc')",
    "UPDATE facts SET data = json_set(data, '$.is_merge', 'x')",
]


@pytest.mark.parametrize("sql", TAMPERED)
def test_a_cache_row_of_the_wrong_shape_is_ignored_and_recomputed(changelog_repo, sql):
    import sqlite3

    args = ("report", "--repo", str(changelog_repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
            "--format", "json", "--detail", "full")
    first = run_narrate(*args)
    assert first.returncode == 0, first.stderr
    db = sqlite3.connect(_cache_db(Path()))
    assert db.execute(sql).rowcount >= 1
    db.commit()
    db.close()
    second = run_narrate(*args)
    assert second.returncode == 0 and not second.stderr.strip(), second.stderr
    before, after = json.loads(first.stdout), json.loads(second.stdout)
    for data in (before, after):
        data.pop("generated_at"), data.pop("engine")
    assert after == before
    third = run_narrate(*args)  # and the row was written again, whole
    assert third.returncode == 0 and json.loads(third.stdout)["engine"]["narrations"]["cached"] == 2


def test_a_cache_from_a_newer_narrator_says_so(small_repo):
    import sqlite3

    from narrator.cache import MIGRATIONS

    assert run_narrate("report", "--repo", str(small_repo.path)).returncode == 0
    db = sqlite3.connect(_cache_db(Path()))
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.commit()
    db.close()
    line = _one_line(run_narrate("report", "--repo", str(small_repo.path)))
    assert f"was written by a newer narrator (schema {len(MIGRATIONS) + 5}" in line
    assert "upgrade narrator or set NARRATOR_CACHE_DIR to another directory" in line


# -- where -o writes -----------------------------------------------------------------------------------------

def test_output_into_the_cache_directory_is_refused(small_repo):
    cache = Path(os.environ["NARRATOR_CACHE_DIR"])
    assert run_narrate("report", "--repo", str(small_repo.path)).returncode == 0
    before = (cache / "cache.sqlite3").read_bytes()
    for target in (cache / "cache.sqlite3", cache / "notes" / ".." / "report.md", cache):
        line = _one_line(run_narrate("report", "--repo", str(small_repo.path), "-o", str(target)))
        assert "inside narrator's cache directory" in line
    assert (cache / "cache.sqlite3").read_bytes() == before
    assert run_narrate("report", "--repo", str(small_repo.path)).returncode == 0  # the cache still works


def test_output_onto_a_named_pipe_streams_into_it(small_repo, tmp_path):
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = run_narrate("report", "--repo", str(small_repo.path), "--since", "2026-11-01", "--format", "md",
                       "-o", str(fifo))
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    import stat

    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe, not replaced by a regular file
    assert b"login page" in received[0]
    assert not [p for p in tmp_path.iterdir() if ".narrator-" in p.name]


def test_output_onto_a_device_writes_into_it(small_repo):
    import stat

    proc = run_narrate("report", "--repo", str(small_repo.path), "-o", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_output_through_a_link_to_proc_self_fd_writes_into_stdout(small_repo, tmp_path):
    """`-o /dev/stdout` with stdout redirected to a file: /dev/stdout is a link to /proc/self/fd/1, which was
    replaced by a regular file (breaking /dev/stdout for every program). Shown here with a link of our own."""
    link = tmp_path / "out.md"
    link.symlink_to("/proc/self/fd/1")
    captured = tmp_path / "captured.md"
    for target in (link, Path("/proc/self/fd/1")):
        with open(captured, "wb") as stdout:
            proc = subprocess.run([sys.executable, "-m", "narrator", "report", "--repo", str(small_repo.path),
                                   "--since", "2026-11-01", "--format", "md", "-o", str(target)],
                                  stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
        assert "login page" in captured.read_text(encoding="utf-8"), target
        assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert not [p for p in tmp_path.iterdir() if ".narrator-" in p.name]


def test_output_onto_a_link_replaces_the_file_it_points_to_and_keeps_the_link(small_repo, tmp_path):
    real = tmp_path / "shared" / "report.md"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "report.md"
    link.symlink_to(real)
    proc = run_narrate("report", "--repo", str(small_repo.path), "--since", "2026-11-01", "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and "login page" in real.read_text(encoding="utf-8")


def test_a_pdf_onto_a_named_pipe_streams_into_it(small_repo, tmp_path):
    from narrator.report import pdf

    if not pdf.pdf_available():
        pytest.skip("WeasyPrint is not usable here")
    fifo = tmp_path / "report.pdf"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = run_narrate("report", "--repo", str(small_repo.path), "--since", "2026-11-01", "-o", str(fifo))
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    import stat

    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe (a PDF replaced it with a regular file)
    assert received and received[0].startswith(b"%PDF")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


_KILLED_WRITER = """
import sys, time
from narrator.report.output import write_atomic
def pieces():
    yield "# half a report\\n"
    print("writing", flush=True)
    time.sleep(600)
    yield "never"
write_atomic(sys.argv[1], pieces())
"""


def test_a_killed_write_leaves_a_recognisable_temporary_that_the_next_run_cleans(tmp_path):
    import signal

    from narrator.report.output import STALE_AFTER_S, write_atomic

    target = tmp_path / "report.md"
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert writer.stdout.readline().strip() == "writing"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    [left] = [p for p in tmp_path.iterdir() if p.name != "report.md"]
    assert left.name.startswith(".report.md.narrator-") and left.name.endswith(".tmp") and not target.exists()
    write_atomic(target, "fresh\n")  # a fresh file (younger than STALE_AFTER_S) is left alone
    assert left.exists()
    old = time.time() - STALE_AFTER_S - 60
    os.utime(left, (old, old))
    other = tmp_path / ".notes.txt.tmp"  # not of our naming: never touched
    other.write_text("keep")
    os.utime(other, (old, old))
    write_atomic(target, "second\n")
    assert not left.exists() and other.exists() and target.read_text() == "second\n"


# -- an unreadable repository --------------------------------------------------------------------------------

_OPEN_AS_NOBODY = """
import sys
sys.path.insert(0, sys.argv[1])
from narrator.git.walker import Repository
from narrator.errors import NarratorError
try:
    Repository.open(sys.argv[2])
    print("opened")
except NarratorError as exc:
    print(exc)
"""


def test_an_unreadable_git_directory_is_reported_as_unreadable(tmp_path):
    import tempfile

    from narrator.errors import RepositoryError
    from narrator.git.walker import Repository

    base = Path(tempfile.mkdtemp(prefix="narrator-unreadable-"))
    try:
        os.chmod(base, 0o755)
        repo = GitRepo(base / "repo")
        repo.commit("feat: one", {"a.py": "x = 1\n"})
        os.chmod(repo.path, 0o755)
        os.chmod(repo.path / ".git", 0)
        if os.geteuid() != 0:
            with pytest.raises(RepositoryError, match=r"\.git is not readable \(permission denied\)"):
                Repository.open(repo.path)
            return
        # root reads everything: ask as an unprivileged user, with an interpreter that user may run
        interpreter = "/usr/bin/python3"
        if not os.access(interpreter, os.X_OK):
            pytest.skip("no system python3 to run as an unprivileged user")

        def drop():
            os.setgid(65534)
            os.setuid(65534)

        proc = subprocess.run([interpreter, "-c", _OPEN_AS_NOBODY, str(ROOT), str(repo.path)], capture_output=True,
                              text=True, preexec_fn=drop, cwd="/", timeout=60,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base)})
        if "No module named" in proc.stderr or "Permission denied" in proc.stderr:
            pytest.skip("the source tree is not readable by an unprivileged user here")
        assert "is not readable (permission denied)" in proc.stdout, proc.stdout + proc.stderr
        assert "not a git repository" not in proc.stdout
    finally:
        os.chmod(base / "repo" / ".git", 0o755) if (base / "repo" / ".git").exists() else None
        import shutil

        shutil.rmtree(base, ignore_errors=True)
