"""The commit use case (``narrate commit REV``): one commit's facts, classification and narration.

It goes through the same session stages as a report (facts, bots, classifier with the repository's area
split, engine, cache), so the commit shows the same category, areas and text as in a report containing it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from narrator.app.session import Session
from narrator.git.facts import Classification, CommitFacts, Narration


@dataclass(frozen=True)
class CommitView:
    facts: CommitFacts
    classification: Classification
    narration: Narration

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts.to_dict(), "classification": asdict(self.classification),
                "narration": self.narration.to_dict()}


def explain_commit(session: Session, rev: str, engine_name: str | None = None) -> CommitView:
    sha = session.repo.resolve(rev)
    commit = session.mark_bots([session.facts([sha])[sha]])[0]
    classification = session.classify([commit])[sha]
    narrations, _ = session.narrate([commit], {sha: classification}, session.engine(engine_name))
    return CommitView(commit, classification, narrations[sha])
