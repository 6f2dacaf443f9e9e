"""The cache's schema moves forward in place: a cache written before migration 4 (WITHOUT ROWID tables) keeps
every row, a report reads them back (cached narrations stay cached), and lookups use the tables' keys."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from conftest import run_narrate
from narrator.cache import MIGRATIONS


def _db_path() -> Path:
    return Path(os.environ["NARRATOR_CACHE_DIR"]) / "cache.sqlite3"


def test_a_cache_of_schema_3_keeps_its_rows_after_the_rowid_migration(git_repo):
    git_repo.commit("Add the parser", {"src/app/parser.py": "def parse(text):\n    return text.split()\n"})
    git_repo.commit("fix: empty input", {"src/app/parser.py": "def parse(text):\n    return (text or '').split()\n"})
    path = _db_path()
    args = ("report", "--repo", str(git_repo.path), "--since", "2000-01-01", "--format", "json")
    first = run_narrate(*args)
    assert first.returncode == 0, first.stderr
    db = sqlite3.connect(path)
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("facts", "narrations", "records")}
    db.execute("PRAGMA user_version = 3")  # the rows as schema 3 (an older narrator) wrote them
    for table in ("facts", "narrations", "records"):
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_rowid")
        key = {"facts": "repo, sha, version", "narrations": "repo, sha, engine, prompt_version",
               "records": "repo, kind, version, sha"}[table]
        db.execute(f"CREATE TABLE {table} ({', '.join(columns)}, PRIMARY KEY ({key})) WITHOUT ROWID")
        db.execute(f"INSERT INTO {table} SELECT {', '.join(columns)} FROM {table}_rowid")
        db.execute(f"DROP TABLE {table}_rowid")
    db.commit()
    db.close()
    second = run_narrate(*args)  # migrates again, then reads every row back
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["engine"]["narrations"]["cached"] == 2
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in counts} == counts
    for table in counts:  # rowid tables now
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        assert "WITHOUT ROWID" not in sql and "UNIQUE" in sql
    plan = " ".join(str(row) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT data FROM facts WHERE repo = ? AND sha IN (?, ?) AND version = ?",
        ("r", "a", "b", 1)))
    assert "USING INDEX" in plan and "SCAN facts" not in plan.replace("SCAN facts USING", "")
    db.close()
