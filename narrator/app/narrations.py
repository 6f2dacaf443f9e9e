"""A window's narrations: every commit narrated (the missing ones now, cached), then read back in window order.

``WindowNarrations`` does the narrating stage in three steps, so that a long report never holds every sentence of
its window at once:

1. which commits the cache has no sentence for (asked a chunk of shas at a time, no sentence read);
2. those narrated by the engine, batch by batch, each batch cached as it comes (one progress bar);
3. iterating it gives ``(commit, narration)`` in the window's order, read back from the cache ``CHUNK`` commits
   at a time: a heuristic sentence whose basis changed (its classification or description) is made again, a
   damaged row is narrated again, and both are cached. The counts by origin (``stats``) are complete after the
   first full iteration.

Without a cache the sentences stay in memory. Iterating again reads them again (the same sentences: the first
iteration cached what it made).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Iterable, Iterator, Mapping, Sequence

from narrator.cache import Cache
from narrator.engines.base import Engine, NarrationRequest
from narrator.engines.generation import fallback_kind
from narrator.engines.heuristic import narrate_commit
from narrator.errors import NarratorError
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.walker import GitDiffs, Repository
from narrator.progress import NoProgress, ProgressSink
from narrator.prompts import PROMPT_VERSION

CHUNK = 2000  # commits whose sentences are read back from the cache at a time
# the counts by origin besides "cached": who wrote each sentence, and why a model's was replaced
_ORIGINS = ("model", "heuristic", "fallback", "rejected", "no_code", "merge", "unavailable")


class WindowNarrations:
    """Every commit of ``commits`` narrated (see the module docstring); iterate for ``(commit, narration)``."""

    def __init__(self, repo: Repository, cache: Cache | None, progress: ProgressSink, commits: Sequence[CommitFacts],
                 classifications: Mapping[str, Classification], engine: Engine,
                 descriptions: Mapping[str, str] | None = None, made_earlier: int = 0,
                 show_progress: bool = True) -> None:
        self._repo, self._cache, self._progress = repo, cache, progress
        self._commits, self._classes, self._engine = commits, classifications, engine
        self._descriptions = descriptions or {}
        self._fingerprint = engine.fingerprint()
        self._counted = False
        if cache is not None:
            missing = cache.unnarrated(repo.key, [c.sha for c in commits], self._fingerprint, PROMPT_VERSION)
            wanted = set(missing)
            requests = [c for c in commits if c.sha in wanted]
        else:
            requests = list(commits)
        self.stats = {"cached": len(commits) - len(requests) - made_earlier, **dict.fromkeys(_ORIGINS, 0)}
        self._fresh = self._narrated(requests, show_progress)

    def basis(self, c: CommitFacts) -> str:
        """What a heuristic sentence was made from: classification and description."""
        digest = self._classes[c.sha].digest
        text = self._descriptions.get(c.sha, "")
        if not c.files_known:  # a merge's sentence names its size only when its files were read
            text += "\0files unknown"
        return digest if not text else hashlib.sha256(f"{digest}\0{text}".encode("utf-8", "surrogatepass")
                                                      ).hexdigest()[:16]

    def _stamped(self, batch: Iterable[Narration], by_sha: Mapping[str, CommitFacts]) -> list[Narration]:
        return [replace(n, basis=self.basis(by_sha[n.sha])) if n.source == "heuristic" else n for n in batch]

    def _store(self, batch: list[Narration], by_sha: Mapping[str, CommitFacts]) -> None:
        cache = self._cache
        if cache is not None:
            cache.put_narrations(self._repo.key, self._stamped(batch, by_sha), self._fingerprint,
                                 PROMPT_VERSION)

    def _narrated(self, commits: Sequence[CommitFacts], show_progress: bool) -> dict[str, Narration]:
        """``commits`` narrated by the engine, each batch cached as it comes; by sha, stamped as cached."""
        if not commits:
            return {}
        by_sha = {c.sha: c for c in commits}
        requests = [NarrationRequest(c, self._classes[c.sha], self._descriptions.get(c.sha, "")) for c in commits]
        engine = self._engine
        progress = self._progress if show_progress else NoProgress()
        progress.start(f"Narrating with {engine.name}", len(requests))  # shown only after a second
        try:
            fresh = engine.narrate(requests, diffs=GitDiffs(self._repo), on_progress=progress.advance,
                                   on_batch=lambda batch: self._store(batch, by_sha))
        finally:
            progress.stop()
        if len(fresh) != len(requests):
            raise NarratorError(f"engine '{engine.name}' returned {len(fresh)} narrations for {len(requests)} "
                                "commits")
        return {n.sha: replace(n, basis=self.basis(by_sha[n.sha])) if n.source == "heuristic" else n for n in fresh}

    def __iter__(self) -> Iterator[tuple[CommitFacts, Narration]]:
        cache, key = self._cache, self._repo.key
        counts = dict.fromkeys(_ORIGINS, 0)
        damaged_rows = 0
        for start in range(0, len(self._commits), CHUNK):
            chunk = self._commits[start:start + CHUNK]
            found = cache.get_narrations(key, [c.sha for c in chunk if c.sha not in self._fresh],
                                         self._fingerprint, PROMPT_VERSION) if cache is not None else {}
            # heuristic sentences (the heuristic engine's, or a model's fallbacks) follow the current classification
            stale = [c for c in chunk if (n := found.get(c.sha)) is not None and n.source == "heuristic"
                     and n.basis != self.basis(c)]
            if stale:
                by_sha = {c.sha: c for c in stale}
                refreshed = self._stamped([replace(found[c.sha], text=narrate_commit(
                    c, self._classes[c.sha], self._descriptions.get(c.sha, ""))) for c in stale], by_sha)
                self._store(refreshed, by_sha)
                found.update((n.sha, n) for n in refreshed)
            damaged = [c for c in chunk if c.sha not in found and c.sha not in self._fresh]
            if damaged:  # a row the cache holds but that cannot be read: narrated again (and cached again)
                found.update(self._narrated(damaged, show_progress=False))
                damaged_rows += len(damaged)
            for c in chunk:
                n = self._fresh.get(c.sha) or found[c.sha]
                if n.source == "model":
                    counts["model"] += 1
                elif n.fallback_reason:
                    counts["fallback"] += 1
                    counts[fallback_kind(n.fallback_reason)] += 1
                else:
                    counts["heuristic"] += 1
                yield c, n
        if not self._counted:  # the first full iteration: the counts by origin (a later one finds the same)
            self._counted = True
            self.stats.update(counts)
            self.stats["cached"] -= damaged_rows
