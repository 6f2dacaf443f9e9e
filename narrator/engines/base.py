"""The engine contract: what every narration engine (built-in or third-party) must provide.

An engine receives plain facts and returns plain ``Narration`` objects; no torch object leaves an engine.
Its ``fingerprint`` names everything that changes its output (model, adapter, settings) and is part of
the cache key together with ``narrator.prompts.PROMPT_VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, runtime_checkable

from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.prompts import FileDiff


@dataclass(frozen=True)
class NarrationRequest:
    """One commit to narrate, with its classification (category, areas).

    ``description`` is the best human-written text about the change chosen by the report (a changelog entry,
    a pull request title...); empty means "use the commit's own subject and body". Model engines put it in
    the prompt as the change's message, and a narration may name what it names.
    """

    commit: CommitFacts
    classification: Classification
    description: str = ""


class DiffProvider(Protocol):
    """Gives engines that read code the text of a commit's changes (read-only access to the repository)."""

    def file_diffs(self, commit: CommitFacts) -> list[FileDiff]: ...

    def file_at(self, rev: str, path: str) -> str: ...


ProgressCallback = Callable[[int], None]  # called with the number of commits just finished


@runtime_checkable
class Engine(Protocol):
    name: str

    def fingerprint(self) -> str:
        """A stable string naming everything that changes this engine's output."""
        ...

    def narrate(
        self,
        requests: Sequence[NarrationRequest],
        diffs: DiffProvider | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[Narration]:
        """One narration per request, in the same order."""
        ...


@dataclass(frozen=True)
class EngineStatus:
    """What `narrate engines` shows for one engine."""

    name: str
    installed: bool
    detail: str
