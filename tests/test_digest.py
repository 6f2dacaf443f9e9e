"""Weekly digests on real repositories: backfill, index, idempotency, quiet weeks, clock skew, rewritten history."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BASE_DATE, run_narrate
from narrator.app.digest import MANIFEST_NAME, DigestError, DigestRequest, week_of, weeks_between, write_digests
from narrator.app.session import Session
from narrator.errors import UsageError

UTC = timezone.utc
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday of ISO week 48


def session_for(repo, **overrides):
    return Session.open(str(repo.path), {"timezone": "UTC", **overrides})


def digest(repo, out: Path, now: datetime = NOW, **kwargs):
    request = DigestRequest(out_dir=str(out), **kwargs)
    with session_for(repo) as session:
        return write_digests(session, request, now=now)


@pytest.fixture
def history(git_repo):
    """Work in ISO weeks 45 and 47 of 2026; week 46 is quiet."""
    git_repo.commit("Add login page", {"src/app/login.py": "def login():\n    return True\n"},
                    when=BASE_DATE + timedelta(hours=1))
    git_repo.commit("fix: login crash on empty password", {"src/app/login.py": "def login(p=''):\n    return bool(p)\n"},
                    when=BASE_DATE + timedelta(days=2))
    git_repo.commit("Add export to CSV", {"src/app/export.py": "def export():\n    return ''\n"},
                    when=datetime(2026, 11, 17, 9, 0, tzinfo=UTC))
    git_repo.commit("docs: explain exports", {"docs/export.md": "# Export\n"},
                    when=datetime(2026, 11, 19, 15, 0, tzinfo=UTC))
    return git_repo


def test_backfill_writes_digests_and_index_newest_first(history, tmp_path):
    out = tmp_path / "digests"
    result = digest(history, out, weeks=6)
    names = [w.name for w in result.weeks]
    assert names == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert result.skipped_before_history == 2  # weeks 43 and 44 predate the first commit
    for name in names:
        assert (out / f"{name}.md").is_file() and (out / f"{name}.html").is_file()
    index_md = (out / "index.md").read_text()
    positions = [index_md.index(f"({n}.md)") for n in reversed(names)]
    assert positions == sorted(positions)  # newest first
    assert all(index_md.count(f"({n}.md)") == 1 for n in names)
    assert "Add export to CSV" not in index_md  # the index holds headlines, not commit lists
    w47 = (out / "2026-W47.md").read_text()
    assert "16 to 22 November 2026" in w47 and "Compared with the previous week" in w47
    assert "9 November to 15 November 2026" in w47
    assert "[← 2026-W46](2026-W46.md)" in w47 and "[2026-W48 →](2026-W48.md)" in w47
    html = (out / "2026-W46.html").read_text()
    assert 'href="2026-W45.html"' in html and 'href="2026-W47.html"' in html and 'href="index.html"' in html
    assert "quiet week" in html and "No commits this week" in (out / "2026-W46.md").read_text()
    current = (out / "2026-W48.md").read_text()
    assert "still in progress" in current and "Sunday 29 November" in current
    index_html = (out / "index.html").read_text()
    assert index_html.count('href="2026-W4') == 4 and "in progress" in index_html
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".2026")]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert sorted(manifest["weeks"]) == names and manifest["weeks"]["2026-W46"]["quiet"] is True


def test_rerun_is_idempotent(history, tmp_path):
    out = tmp_path / "digests"
    digest(history, out, weeks=4)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    os.utime(out / "index.html", ns=(1, 1))  # make any rewrite visible even within one mtime tick
    before["index.html"] = (1, before["index.html"][1])
    again = digest(history, out, weeks=4, now=NOW + timedelta(hours=3))
    assert [w.action for w in again.weeks] == ["unchanged"] * 4 and not again.index_written
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    assert after == before


def test_finished_week_is_refreshed_and_linked_when_the_next_starts(history, tmp_path):
    out = tmp_path / "digests"
    digest(history, out, weeks=1, now=datetime(2026, 11, 20, tzinfo=UTC))  # week 47 still in progress
    assert "still in progress" in (out / "2026-W47.md").read_text()
    result = digest(history, out, weeks=1)  # now in week 48: only the current week asked for
    assert {w.name: w.action for w in result.weeks} == {"2026-W47": "written", "2026-W48": "written"}
    w47 = (out / "2026-W47.md").read_text()
    assert "still in progress" not in w47 and "[2026-W48 →](2026-W48.md)" in w47


def test_future_dated_commits_are_not_digested_ahead_of_time(history, tmp_path):
    history.commit("Add reports page", {"src/app/reports.py": "x = 1\n"}, when=datetime(2027, 3, 1, tzinfo=UTC))
    out = tmp_path / "digests"
    result = digest(history, out, weeks=2)
    assert result.future_commits == 1
    assert sorted(p.name for p in out.glob("2027-*")) == []
    assert "dated after this digest was made" in (out / "2026-W48.md").read_text()
    with pytest.raises(UsageError, match="future"):
        digest(history, tmp_path / "other", since="2027-01-01", until="2027-02-01")


def test_rewritten_history_regenerates_affected_weeks(history, tmp_path):
    out = tmp_path / "digests"
    digest(history, out, weeks=4)
    w45_mtime = (out / "2026-W45.md").stat().st_mtime_ns
    stamp = "2026-11-19T15:00:00+00:00"
    history.git("commit", "-q", "--amend", "-m", "docs: explain CSV exports in detail",
                env={"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp})
    result = digest(history, out, weeks=4)
    actions = {w.name: w.action for w in result.weeks}
    assert actions["2026-W47"] == "written" and actions["2026-W45"] == "unchanged"
    assert (out / "2026-W45.md").stat().st_mtime_ns == w45_mtime
    assert "CSV exports in detail" in (out / "2026-W47.md").read_text()
    assert (out / "index.md").read_text().count("(2026-W47.md)") == 1


def test_out_that_is_a_file_is_one_clear_error(history, tmp_path):
    target = tmp_path / "digests.txt"
    target.write_text("not a directory\n")
    result = run_narrate("digest", "--repo", str(history.path), "--out", str(target))
    assert result.returncode == 1
    assert result.stderr.startswith("narrate: error: ") and "is a file" in result.stderr
    assert result.stderr.count("\n") == 1
    assert target.read_text() == "not a directory\n"


def test_default_out_dir_inside_repository_needs_explicit_out(history, tmp_path):
    request = DigestRequest(weeks=1)
    with session_for(history) as session, pytest.raises(DigestError, match="inside the analysed repository"):
        write_digests(session, request, now=NOW, cwd=history.path)
    assert not (history.path / "narrator-digests").exists()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with session_for(history) as session:
        write_digests(session, request, now=NOW, cwd=outside)
    assert (outside / "narrator-digests" / "index.html").is_file()
    assert history.git("status", "--porcelain") == ""  # nothing written into the analysed repository


def test_cli_digest_writes_requested_formats(history, tmp_path):
    out = tmp_path / "md-only"
    result = run_narrate("digest", "--repo", str(history.path), "--out", str(out), "--format", "md",
                         "--since", "2026-11-01", "--until", "2026-11-22")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "2026-W45.md", "2026-W46.md", "2026-W47.md", "index.md"]  # W44 predates the first commit
    assert "wrote" in result.stdout and "quiet week" in result.stdout
    bad = run_narrate("digest", "--repo", str(history.path), "--out", str(out), "--format", "pdf")
    assert bad.returncode == 2 and "md, html" in bad.stderr


def test_weeks_follow_configured_start_and_timezone():
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # Monday 00:30 in Paris
    assert week_of(moment, paris).name == "2026-W48"
    assert week_of(moment, UTC).name == "2026-W47"
    sunday = week_of(datetime(2026, 11, 22, 12, tzinfo=UTC), UTC, start_day=6)
    assert sunday.start.date().isoformat() == "2026-11-22" and sunday.name == "2026-W48"
    assert sunday.label() == "22 to 28 November 2026"
    span = weeks_between(datetime(2026, 12, 30, tzinfo=UTC), datetime(2027, 1, 6, tzinfo=UTC), UTC)
    assert [w.name for w in span] == ["2026-W53", "2027-W01"]


def test_a_digest_of_several_weeks_opens_the_repository_once_and_creates_its_engine_once(history, tmp_path,
                                                                                          monkeypatch):
    """Issue 8: the weeks of a digest share one session (with --engine hf, weights would load once)."""
    from narrator.engines import registry
    from narrator.git.walker import Repository

    opened, created = [], []
    real_open, real_create = Repository.open.__func__, registry.create
    monkeypatch.setattr(Repository, "open", classmethod(lambda cls, path=".": opened.append(path) or
                                                        real_open(cls, path)))
    monkeypatch.setattr(registry, "create", lambda name, settings: created.append(name) or
                        real_create(name, settings))
    result = digest(history, tmp_path / "out", weeks=4)
    written = [w for w in result.weeks if w.action == "written"]
    assert len(written) >= 3  # weeks 45, 46 (quiet) and 47 at least
    assert len(opened) == 1 and created == ["heuristic"]
