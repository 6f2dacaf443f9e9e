"""The composition root: the ONE place where narrator's stages are tied together.

A ``Session`` holds one opened repository, its resolved settings, and everything built from them once: the
classifier (with the repository's root-package split), the bot matcher, the engine (created on first use, then
reused: a digest of N weeks loads a model at most once) and the cache (or none with ``--no-cache``). The use
cases (``narrator.app.report``, ``digest``, ``commit``, ``explain``, ``hook_job``) are thin functions over a
session; they never build these pieces themselves, so a commit gets the same category, areas and text in a
report, in ``narrate commit`` and in the hook.

Only the session touches the cache: engines are pure (inputs in, narrations out).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from narrator.app.narrations import WindowNarrations
from narrator.cache import Cache
from narrator.config import Settings, load_settings
from narrator.engines import registry
from narrator.engines.base import Engine, HeadlineWriter
from narrator.errors import NarratorError
from narrator.git.bots import bot_matcher
from narrator.git.classify import Classifier, root_package
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.history import python_packages, tracked_paths
from narrator.git.walker import (HISTORY_VERSION, HistoryIndex, Repository, history_tips, read_facts,
                                 read_history_index)
from narrator.progress import NoProgress, ProgressSink
from narrator.prompts import PROMPT_VERSION

log = logging.getLogger(__name__)

_HISTORY = "history"  # cache record kind of the HistoryIndex (one per repository: the latest tips)
_FACTS_FLUSH = 2000  # facts written to the cache in batches of this many while a long walk runs


class Session:
    """One repository with its settings, classifier, bot matcher, engine and cache, each built once."""

    def __init__(self, repo: Repository, settings: Settings, cache: Cache | None = None,
                 progress: ProgressSink | None = None) -> None:
        self.repo = repo
        self.settings = settings
        self.cache = cache
        self.progress: ProgressSink = progress or NoProgress()
        self.is_bot = bot_matcher(settings.bots.patterns)
        self._classifier: Classifier | None = None
        self._engines: dict[str, Engine] = {}
        self._histories: dict[tuple[tuple[str, ...], bool], HistoryIndex] = {}
        self._tracked: list[str] | None = None
        self._internal: tuple[str, ...] | None = None  # the top-level Python packages that offer no API

    @classmethod
    def open(cls, repo_path: str = ".", overrides: Mapping[str, Any] | None = None, *, use_cache: bool = True,
             progress: ProgressSink | None = None, settings: Settings | None = None) -> "Session":
        """Open the repository at ``repo_path`` (found the way git does) with its layered settings."""
        repo = Repository.open(repo_path)
        if settings is None:
            settings = load_settings(None if repo.bare else repo.root, overrides=overrides)
        elif overrides:
            settings = settings.with_overrides(overrides)
        return cls(repo, settings, Cache() if use_cache else None, progress)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- built once ---------------------------------------------------------------------------------------
    def tracked_paths(self) -> list[str]:
        """Every file of HEAD's tree (read once: the classifier's root package and ``is_internal_python`` ask)."""
        if self._tracked is None:
            self._tracked = tracked_paths(self.repo) if self.repo.has_commits() else []
        return self._tracked

    def is_internal_python(self, path: str) -> bool:
        """Whether a Python file is internal code: inside a top-level package whose ``__init__.py`` offers no API
        (``git.history.python_packages``). A public-looking function removed there is not a change for users of
        the software: an application's modules are not imported by its users. The packages are read the first
        time a judgment asks (most reports never do)."""
        if self._internal is None:
            packages = python_packages(self.repo, self.tracked_paths())
            self._internal = tuple(package for package, api in packages.items() if not api)
        return bool(self._internal) and path.startswith(self._internal)

    @property
    def classifier(self) -> Classifier:
        """Rules and areas from the settings; a root package holding most source files is split one level."""
        if self._classifier is None:
            rules, areas = self.settings.classify.rules, self.settings.areas
            source = self.settings.sources.get("classify.rules", "the config")  # regex errors name the file
            package = root_package(self.tracked_paths(), Classifier(rules, areas, source=source)) \
                if self.repo.has_commits() else None
            self._classifier = Classifier(rules, areas, split_areas=[package] if package else (),
                                          project=self.repo.name, source=source)
        return self._classifier

    def engine(self, name: str | None = None) -> Engine:
        """The engine called ``name`` (default: the configured one), created on first use and then reused."""
        name = name or self.settings.engine
        found = self._engines.get(name)
        if found is None:
            found = self._engines[name] = registry.create(name, self.settings.engine_section(name))
        return found

    # -- stages -------------------------------------------------------------------------------------------
    def history(self, revisions: Sequence[str] = ("HEAD",), all_branches: bool = False) -> HistoryIndex:
        """Every commit reachable from ``revisions`` with its time and offset (``HistoryIndex``): read once per
        session, and kept in the cache for the same tips (a warm report walks no history to list its window)."""
        asked = (tuple(revisions), all_branches)
        found = self._histories.get(asked)  # a session asks git for the tips once per revisions
        if found is not None:
            return found
        tips = history_tips(self.repo, revisions, all_branches)
        cache = self.cache
        if cache is not None:
            stored = cache.get_records(self.repo.key, _HISTORY, HISTORY_VERSION, [tips]).get(tips)
            try:
                found = HistoryIndex.decode(stored["index"]) if stored is not None else None
            except (KeyError, TypeError, ValueError, AttributeError):
                log.debug("ignoring a damaged history index in the cache")
                found = None
        if found is None:
            found = read_history_index(self.repo, revisions, all_branches)
            if cache is not None:
                cache.replace_records(self.repo.key, _HISTORY, HISTORY_VERSION, {tips: {"index": found.encode()}})
        self._histories[asked] = found
        return found

    def facts(self, shas: Sequence[str], merge_files: bool = True,
              on_read: Callable[[list[CommitFacts]], None] | None = None) -> dict[str, CommitFacts]:
        """Facts for these commits: from the cache where present, else from one git process (then cached).

        ``merge_files=False``: merges may come without their files (``files_known`` False; read so when missing,
        kept so in the cache); the report fills those it needs with ``fill_merges``. ``on_read``: called with
        each batch of facts read from git, in the order of ``shas``, while git goes on walking (a report judges
        them meanwhile)."""
        cache = self.cache
        found = cache.get_facts(self.repo.key, list(shas)) if cache is not None else {}
        missing = [s for s in shas if s not in found]
        if missing:
            self._read_facts(missing, found, merge_files, on_read)
        if merge_files:
            unread = [s for s in shas if s in found and not found[s].files_known]
            if unread:
                found.update(self.fill_merges(unread))
        return found

    def _read_facts(self, missing: Sequence[str], found: dict[str, CommitFacts], merge_files: bool,
                    on_read: Callable[[list[CommitFacts]], None] | None = None) -> None:
        cache = self.cache
        self.progress.start("Reading history", len(missing))
        fresh: list[CommitFacts] = []

        def flush() -> None:
            if cache is not None:
                cache.put_facts(self.repo.key, fresh)
            found.update((f.sha, f) for f in fresh)
            if on_read is not None:
                on_read(fresh)

        try:
            for commit in read_facts(self.repo, missing, on_commit=self.progress.advance, merge_files=merge_files):
                fresh.append(commit)
                if len(fresh) >= _FACTS_FLUSH and (cache is not None or on_read is not None):
                    flush()
                    fresh = []
        finally:
            self.progress.stop()
        flush()

    def fill_merges(self, shas: Sequence[str]) -> dict[str, CommitFacts]:
        """These merges' facts with their files (the diff against the first parent), read in one git process and
        cached so."""
        filled: dict[str, CommitFacts] = {}
        self._read_facts(shas, filled, True)
        return filled

    def mark_bots(self, commits: Iterable[CommitFacts], include_bots: bool | None = None) -> list[CommitFacts]:
        """Commits with ``is_bot`` set from the bot patterns (``include_bots``: count them as team work)."""
        include = self.settings.bots.include if include_bots is None else include_bots
        out = []
        for commit in commits:
            bot = not include and self.is_bot(commit.author)
            if commit.is_bot != bot:
                commit = replace(commit, is_bot=bot)
            people = commit.co_authors if include else tuple(p for p in commit.co_authors if not self.is_bot(p))
            if len(people) != len(commit.co_authors):  # a coding assistant is no person
                commit = replace(commit, co_authors=people)
            out.append(commit)
        return out

    def classify(self, commits: Iterable[CommitFacts]) -> dict[str, Classification]:
        classifier = self.classifier
        return {c.sha: classifier.classify(c) for c in commits}

    def narrate(self, commits: Sequence[CommitFacts], classifications: Mapping[str, Classification],
                engine: Engine | None = None, descriptions: Mapping[str, str] | None = None,
                made_earlier: int = 0, show_progress: bool = True,
                ) -> tuple[dict[str, Narration], dict[str, int]]:
        """Narrations for these commits: cached ones reused, the rest generated batch by batch and cached.

        ``descriptions``: the human-written text the judgment chose per commit (changelog entries), handed to
        the engine. ``made_earlier``: how many of these commits this report narrated already (``JudgedAhead``):
        the cache holds their sentences, which do not count as cached. Returns the narrations by sha and
        counts by origin (cached, model, heuristic, fallback; and the fallbacks by why: rejected by the guard,
        no_code to read, merge commits, model unavailable).
        """
        narrations = self.narrations(commits, classifications, engine, descriptions, made_earlier, show_progress)
        found = {c.sha: n for c, n in narrations}
        return found, narrations.stats

    def narrations(self, commits: Sequence[CommitFacts], classifications: Mapping[str, Classification],
                   engine: Engine | None = None, descriptions: Mapping[str, str] | None = None,
                   made_earlier: int = 0, show_progress: bool = True) -> WindowNarrations:
        """As ``narrate``, without holding every sentence: the missing ones narrated now, the rest read back
        in the order of ``commits`` when iterated (``narrator.app.narrations``)."""
        return WindowNarrations(self.repo, self.cache, self.progress, commits, classifications,
                                engine or self.engine(), descriptions, made_earlier, show_progress)

    def headline(self, engine: Engine, summary_facts: dict[str, Any], sentences: list[str]) -> str | None:
        """A model-written headline (cached by its input, so a cached rerun loads no model), or None."""
        if not isinstance(engine, HeadlineWriter) or not sentences:
            return None
        fingerprint = engine.fingerprint()
        input_key = hashlib.sha256(json.dumps([summary_facts, sentences], sort_keys=True, default=str)
                                   .encode("utf-8", "surrogatepass")).hexdigest()
        if self.cache is not None:
            stored = self.cache.get_headline(fingerprint, PROMPT_VERSION, input_key)
            if stored is not None:
                return stored or None
        try:
            text = engine.write_headline(summary_facts, sentences) or ""
        except NarratorError as exc:
            log.warning("model headline failed, keeping the computed one: %s", exc)
            return None
        if self.cache is not None:
            self.cache.put_headline(fingerprint, PROMPT_VERSION, input_key, text)
        return text or None
