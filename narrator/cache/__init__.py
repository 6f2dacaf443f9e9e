"""SQLite cache of commit facts and narrations, in the user cache dir (never inside the analysed repository).

Facts are keyed by (repository key, commit sha, facts version); narrations by (repository key, commit sha,
engine fingerprint, prompt version); model-written headlines by (engine fingerprint, prompt version, a hash of
their input). Only the composition root (``narrator.app.session``) reads or writes it: engines never do. The database uses WAL and a busy timeout so that several writers
(the post-commit hook's background jobs, a report run) never corrupt it; schema changes go through the
numbered ``MIGRATIONS`` (``PRAGMA user_version``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, Iterable, Iterator, Mapping, Sequence

from narrator.errors import CacheError
from narrator.git.facts import FACTS_VERSION, CommitFacts, Narration

MIGRATIONS: list[str] = [
    # 1: facts and narrations
    """
    CREATE TABLE facts (
        repo TEXT NOT NULL, sha TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (repo, sha, version)
    ) WITHOUT ROWID;
    CREATE TABLE narrations (
        repo TEXT NOT NULL, sha TEXT NOT NULL, engine TEXT NOT NULL, prompt_version TEXT NOT NULL,
        data TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (repo, sha, engine, prompt_version)
    ) WITHOUT ROWID;
    """,
    # 2: model-written report headlines (before this, they were stored as fake narrations of repo "headline")
    """
    CREATE TABLE headlines (
        engine TEXT NOT NULL, prompt_version TEXT NOT NULL, input TEXT NOT NULL, text TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (engine, prompt_version, input)
    ) WITHOUT ROWID;
    DELETE FROM narrations WHERE repo = 'headline';
    """,
    # 3: per-commit records derived from a commit alone (evidence, code health), keyed by kind and version
    """
    CREATE TABLE records (
        repo TEXT NOT NULL, sha TEXT NOT NULL, kind TEXT NOT NULL, version TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (repo, kind, version, sha)
    ) WITHOUT ROWID;
    """,
    # 4: the same tables with rowids (rows kept): a WITHOUT ROWID table stores each row inside its key's b-tree,
    # and rows of a kilobyte (facts, evidence) make every insert and lookup several times slower (numpy's 41,819
    # facts: 1.96 s of cpu to insert against 0.56 s, 0.60 s to read against 0.16 s)
    """
    CREATE TABLE facts_4 (
        repo TEXT NOT NULL, sha TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
        UNIQUE (repo, sha, version)
    );
    INSERT INTO facts_4 (repo, sha, version, data) SELECT repo, sha, version, data FROM facts;
    DROP TABLE facts;
    ALTER TABLE facts_4 RENAME TO facts;
    CREATE TABLE narrations_4 (
        repo TEXT NOT NULL, sha TEXT NOT NULL, engine TEXT NOT NULL, prompt_version TEXT NOT NULL,
        data TEXT NOT NULL, created REAL NOT NULL,
        UNIQUE (repo, sha, engine, prompt_version)
    );
    INSERT INTO narrations_4 (repo, sha, engine, prompt_version, data, created)
        SELECT repo, sha, engine, prompt_version, data, created FROM narrations;
    DROP TABLE narrations;
    ALTER TABLE narrations_4 RENAME TO narrations;
    CREATE TABLE records_4 (
        repo TEXT NOT NULL, sha TEXT NOT NULL, kind TEXT NOT NULL, version TEXT NOT NULL, data TEXT NOT NULL,
        UNIQUE (repo, kind, version, sha)
    );
    INSERT INTO records_4 (repo, sha, kind, version, data) SELECT repo, sha, kind, version, data FROM records;
    DROP TABLE records;
    ALTER TABLE records_4 RENAME TO records;
    """,
]

log = logging.getLogger(__name__)

# One encoder for every row (json.dumps with options builds one per call); the same text as json.dumps(x,
# ensure_ascii=False): rows are plain dicts and lists, so the circular-reference check is left out.
_dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_second = itemgetter(1)
_CHUNK = 500  # SQLite's default limit on host parameters is 999 (older builds)


# Facts of a merge read without its diff are kept under this version: complete facts keep FACTS_VERSION (and the
# narrations keyed by it), and a narrator that does not know such merges never mistakes one for an empty merge.
_UNREAD = -FACTS_VERSION


def _narration_version(prompt_version: str) -> str:
    """Narrations are computed from facts too: a new facts version must not reuse old narrations."""
    return f"{prompt_version}+facts{FACTS_VERSION}"


def cache_dir() -> Path:
    override = os.environ.get("NARRATOR_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("narrator"))


def _decode(kind: Any, sha: str, data: Any) -> Any:
    """A cached row decoded, or None for a damaged one (it is then recomputed and written again)."""
    try:
        return kind.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        log.debug("ignoring a damaged %s row in the cache for %s (%s); it will be recomputed", kind.__name__,
                  str(sha)[:12], type(exc).__name__)
        return None


class Cache:
    """A connection to the cache database; use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path | None = None, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "cache.sqlite3"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(
                f"cannot open the cache at {self.path}: {exc}; set NARRATOR_CACHE_DIR to a writable directory"
            ) from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            self._db.close()
            raise CacheError(
                f"this cache ({self.path}) was written by a newer narrator (schema {version}, this one knows "
                f"{len(MIGRATIONS)}); upgrade narrator or set NARRATOR_CACHE_DIR to another directory"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                if self._db.execute("PRAGMA user_version").fetchone()[0] >= number:
                    self._db.execute("COMMIT")
                    continue
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts ---------------------------------------------------------------------------------
    def get_facts(self, repo: str, shas: Sequence[str]) -> dict[str, CommitFacts]:
        """Cached facts of these commits: complete ones, else a merge's facts without its files (``files_known``
        False, kept apart under ``_UNREAD``: a narrator that knows no such merges never reads them)."""
        found: dict[str, CommitFacts] = {}
        try:
            for start in range(0, len(shas), _CHUNK):
                chunk = shas[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT sha, data, version FROM facts WHERE repo = ? AND version IN (?, ?) AND sha IN ({marks})"
                    " ORDER BY version = ?",  # complete facts last: they win over a merge read without files
                    (repo, FACTS_VERSION, _UNREAD, *chunk, FACTS_VERSION),
                )
                for sha, data, version in rows:
                    facts = _decode(CommitFacts, sha, data)
                    # a row of another commit is damaged too, and so is a row whose files do not match its kind
                    if facts is not None and facts.sha == sha and facts.files_known is (version == FACTS_VERSION):
                        found[facts.sha] = facts  # its interned sha: the row's copy is freed with the row
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the cache at {self.path}: {exc}") from None
        return found

    def put_facts(self, repo: str, facts: Iterable[CommitFacts]) -> None:
        rows = [(repo, f.sha, FACTS_VERSION if f.files_known else _UNREAD, _dumps(f.to_dict())) for f in facts]
        self._write("INSERT OR REPLACE INTO facts (repo, sha, version, data) VALUES (?, ?, ?, ?)", rows)

    # -- narrations ----------------------------------------------------------------------------
    def get_narrations(
        self, repo: str, shas: Sequence[str], engine: str, prompt_version: str
    ) -> dict[str, Narration]:
        found: dict[str, Narration] = {}
        try:
            for start in range(0, len(shas), _CHUNK):
                chunk = shas[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT sha, data FROM narrations WHERE repo = ? AND engine = ? AND prompt_version = ?"
                    f" AND sha IN ({marks})",
                    (repo, engine, _narration_version(prompt_version), *chunk),
                )
                for sha, data in rows:
                    narration = _decode(Narration, sha, data)
                    if narration is not None and narration.sha == sha:
                        found[narration.sha] = narration  # the narration's interned sha, not the row's copy
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the cache at {self.path}: {exc}") from None
        return found

    def unnarrated(self, repo: str, shas: Sequence[str], engine: str, prompt_version: str) -> list[str]:
        """The shas (in their order) the cache holds no sentence for; no sentence is read (a damaged row counts
        as held: reading it tells)."""
        missing: list[str] = []
        try:
            for start in range(0, len(shas), _CHUNK):
                chunk = shas[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                held = {sha for (sha,) in self._db.execute(
                    "SELECT sha FROM narrations WHERE repo = ? AND engine = ? AND prompt_version = ?"
                    f" AND sha IN ({marks})",
                    (repo, engine, _narration_version(prompt_version), *chunk),
                )}
                missing.extend(sha for sha in chunk if sha not in held)
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the cache at {self.path}: {exc}") from None
        return missing

    def put_narrations(
        self, repo: str, narrations: Iterable[Narration], engine: str, prompt_version: str
    ) -> None:
        now = time.time()
        rows = [
            (repo, n.sha, engine, _narration_version(prompt_version), _dumps(n.to_dict()), now)
            for n in narrations
        ]
        self._write(
            "INSERT OR REPLACE INTO narrations (repo, sha, engine, prompt_version, data, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    # -- per-commit records (evidence, code health) --------------------------------------------
    def _record_rows(self, columns: str, repo: str, kind: str, version: str, shas: Sequence[str]) -> Iterator[tuple]:
        """Rows of ``records`` for these commits (``columns``: what to select), asked a chunk of shas at a time."""
        try:
            for start in range(0, len(shas), _CHUNK):
                chunk = shas[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                yield from self._db.execute(
                    f"SELECT {columns} FROM records WHERE repo = ? AND kind = ? AND version = ? AND sha IN ({marks})",
                    (repo, kind, version, *chunk))
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the cache at {self.path}: {exc}") from None

    def get_records(self, repo: str, kind: str, version: str, shas: Sequence[str]) -> dict[str, dict]:
        """JSON records of ``kind`` for these commits; a damaged row is left out (recomputed by the caller)."""
        found: dict[str, dict] = {}
        for sha, data in self._record_rows("sha, data", repo, kind, version, shas):
            try:
                value = json.loads(data)
            except ValueError:
                log.debug("ignoring a damaged %s record for %s", kind, sha)
                continue
            if isinstance(value, dict):
                found[sha] = value
        return found

    def record_shas(self, repo: str, kind: str, version: str, shas: Sequence[str]) -> set[str]:
        """Which of these commits have a record of ``kind`` (its data not read: a window of 200,000 commits is
        asked without decoding 200,000 records)."""
        return {sha for (sha,) in self._record_rows("sha", repo, kind, version, shas)}

    def put_records(self, repo: str, kind: str, version: str, records: Mapping[str, dict]) -> None:
        rows = [(repo, sha, kind, version, _dumps(data)) for sha, data in records.items()]
        self._write("INSERT OR REPLACE INTO records (repo, sha, kind, version, data) VALUES (?, ?, ?, ?, ?)", rows)

    def replace_records(self, repo: str, kind: str, version: str, records: Mapping[str, dict]) -> None:
        """Store these records of ``kind`` and drop the repository's other ones of that kind (a history index
        is only useful for the latest tips: older ones would pile up, megabytes each on a long history)."""
        rows = [(repo, sha, kind, version, _dumps(data)) for sha, data in records.items()]
        marks = ",".join("?" * len(records))
        with self._transaction():
            self._db.execute(f"DELETE FROM records WHERE repo = ? AND kind = ? AND sha NOT IN ({marks})",
                             (repo, kind, *records))
            self._db.executemany("INSERT OR REPLACE INTO records (repo, sha, kind, version, data) "
                                 "VALUES (?, ?, ?, ?, ?)", rows)

    # -- headlines -----------------------------------------------------------------------------
    def get_headline(self, engine: str, prompt_version: str, input_key: str) -> str | None:
        """A headline stored for this input, "" when the model's answer was rejected, None when never asked."""
        try:
            row = self._db.execute(
                "SELECT text FROM headlines WHERE engine = ? AND prompt_version = ? AND input = ?",
                (engine, prompt_version, input_key)).fetchone()
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the cache at {self.path}: {exc}") from None
        return None if row is None else str(row[0])

    def put_headline(self, engine: str, prompt_version: str, input_key: str, text: str) -> None:
        self._write("INSERT OR REPLACE INTO headlines (engine, prompt_version, input, text, created) VALUES "
                    "(?, ?, ?, ?, ?)", [(engine, prompt_version, input_key, text, time.time())])

    def _write(self, sql: str, rows: list[tuple]) -> None:
        """Insert ``rows`` in one transaction (their second column is a commit sha; a headline is one row)."""
        if not rows:
            return
        # In the order of their keys (every table's key is its sha within one call): rows given in history order
        # land on random pages of the tables, and a page cache of 2 MB writes the same page to the log again and
        # again in one transaction; the order of equal keys is kept, so the last of two still wins.
        rows = sorted(rows, key=_second)
        with self._transaction():
            self._db.executemany(sql, rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (one writer at a time; others wait on busy_timeout), rolled back on any error;
        a database error is one CacheError line."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise CacheError(f"cannot write the cache at {self.path}: {exc}") from None
