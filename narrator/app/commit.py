"""The commit use case (``narrate commit REV``): one commit's facts, classification and narration.

It goes through the same session stages as a report (facts, bots, classifier with the repository's area
split, engine, cache), so the commit shows the same category, areas and text as in a report containing it.
"""

from __future__ import annotations

from narrator.app.session import Session
from narrator.report.commit_text import CommitView


def explain_commit(session: Session, rev: str, engine_name: str | None = None) -> CommitView:
    sha = session.repo.resolve(rev)
    commit = session.mark_bots([session.facts([sha])[sha]])[0]
    classification = session.classify([commit])[sha]
    narrations, _ = session.narrate([commit], {sha: classification}, session.engine(engine_name))
    return CommitView(commit, classification, narrations[sha])
