"""The engine contract: what every narration engine (built-in or third-party) must provide.

An engine is pure: it receives plain facts and returns plain ``Narration`` objects; it never reads or writes
the cache (the composition root, ``narrator.app.session``, does) and no torch object leaves it. Its
``fingerprint`` names everything that changes its output (model, adapter, settings) and is part of the cache
key together with ``narrator.prompts.PROMPT_VERSION``.

``Engine`` is the whole required contract. Optional skills are their own protocols, checked with
``isinstance``: ``HeadlineWriter`` (rewrite a report's headline) and ``CodeExplainer`` (``narrate explain``).
A third-party engine is a class (or factory) registered in the ``narrator.engines`` entry-point group and
called as ``factory(settings: dict)`` with its ``[engines.<name>]`` settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence, runtime_checkable

from narrator.git.facts import Classification, CommitFacts, FileDiff, Narration

if TYPE_CHECKING:
    from narrator.engines.guard import Verdict


@dataclass(frozen=True)
class NarrationRequest:
    """One commit to narrate, with its classification (category, areas) and, when the repository has one, the
    human-written description chosen by the report's judgment (a changelog entry, a news fragment, tag notes):
    an engine rewrites it for a manager, never adding a claim that is not in it or in the diff."""

    commit: CommitFacts
    classification: Classification
    description: str = ""


class DiffProvider(Protocol):
    """Gives engines that read code the text of a commit's changes (read-only access to the repository)."""

    def file_diffs(self, commit: CommitFacts) -> list[FileDiff]: ...

    def file_at(self, rev: str, path: str) -> str: ...


ProgressCallback = Callable[[int], None]  # called with the number of commits just finished
BatchCallback = Callable[[list[Narration]], None]  # called with narrations as soon as they are finished


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
        on_batch: BatchCallback | None = None,
    ) -> list[Narration]:
        """One narration per request, in the same order.

        ``on_progress(n)`` after each n commits; ``on_batch(narrations)`` with finished narrations as soon as
        they exist (so an interrupted run keeps its work). Both are optional to call.
        """
        ...


@runtime_checkable
class HeadlineWriter(Protocol):
    """Optional skill: a one-sentence headline for a report, or None to keep the computed one."""

    def write_headline(self, summary_facts: dict[str, Any], sentences: list[str]) -> str | None: ...


@runtime_checkable
class CodeExplainer(Protocol):
    """Optional skill: a one-sentence summary of a piece of code, with the guard's verdict."""

    def explain_code(self, code: str, language: str, name: str | None = None,
                     path: str = "") -> tuple[str | None, "Verdict"]: ...


@dataclass(frozen=True)
class EngineStatus:
    """What `narrate engines` shows for one engine."""

    name: str
    installed: bool
    detail: str
    lines: tuple[str, ...] = ()  # more detail, one line each (e.g. which model and adapter, and why)
