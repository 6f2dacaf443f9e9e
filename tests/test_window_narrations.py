"""A report reads its window's sentences back from the cache a chunk at a time (``narrator.app.narrations``):
the same report as holding them all, sentences made again where a cached row is damaged or its basis changed,
and the counts by origin right."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from conftest import run_narrate


@pytest.fixture
def busy_repo(git_repo):
    for n in range(14):
        kind = ("feat", "fix", "docs", "test")[n % 4]
        path = {"docs": f"docs/page{n}.md", "test": f"tests/test_{n}.py"}.get(kind, f"src/mod{n % 5}.py")
        git_repo.commit(f"{kind}: change number {n} in {path}", {path: f"value = {n}\n" * (n + 1)})
    git_repo.git("checkout", "-q", "-b", "topic")
    git_repo.commit("fix: topic work", {"src/topic.py": "x = 1\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.merge("topic", "Merge pull request #7 from someone/topic")
    return git_repo


def _report(repo, *extra: str) -> dict:
    proc = run_narrate("report", "--repo", str(repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
                       "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    data.pop("generated_at")
    return data


def _db() -> sqlite3.Connection:
    return sqlite3.connect(Path(os.environ["NARRATOR_CACHE_DIR"]) / "cache.sqlite3")


def test_sentences_read_back_a_chunk_at_a_time_make_the_same_report(busy_repo, monkeypatch) -> None:
    from narrator.app import narrations
    from narrator.cache import Cache

    _report(busy_repo)  # cold: every sentence made and cached
    whole = _report(busy_repo)
    asked: list[int] = []
    read = Cache.get_narrations

    def counted(self, repo, shas, engine, prompt_version):
        asked.append(len(shas))
        return read(self, repo, shas, engine, prompt_version)

    monkeypatch.setattr(Cache, "get_narrations", counted)
    monkeypatch.setattr(narrations, "CHUNK", 3)
    chunked = _report(busy_repo)
    assert chunked == whole
    assert len(asked) >= 16 // 3 and max(asked) <= 3  # never the whole window at once
    assert whole["engine"]["narrations"]["cached"] == 16  # a warm run finds every sentence


def test_damaged_sentences_are_made_again_and_not_counted_as_cached(busy_repo) -> None:
    first = _report(busy_repo)
    with _db() as db:
        assert db.execute("UPDATE narrations SET data = 'not json'").rowcount >= 16
    second = _report(busy_repo)
    stats = second["engine"]["narrations"]
    assert stats["cached"] == 0 and stats["heuristic"] == 16, stats
    assert [c["narration"] for c in second["commits"]] == [c["narration"] for c in first["commits"]]
    with _db() as db:  # and cached again, readable
        assert all(row[0].startswith("{") for row in db.execute("SELECT data FROM narrations"))
    assert _report(busy_repo)["engine"]["narrations"]["cached"] == 16


def test_without_a_cache_the_sentences_are_the_same(busy_repo) -> None:
    cached = _report(busy_repo)
    uncached = _report(busy_repo, "--no-cache")
    assert [c["narration"] for c in uncached["commits"]] == [c["narration"] for c in cached["commits"]]
    assert uncached["highlights"] == cached["highlights"]
    assert uncached["engine"]["narrations"]["cached"] == 0
