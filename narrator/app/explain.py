"""The explain use case (``narrate explain PATH[:SYMBOL]``): the session's engine summarises a piece of code."""

from __future__ import annotations

from narrator.app.session import Session
from narrator.explain import Explanation, explain


def explain_target(session: Session, target: str, rev: str = "HEAD", engine_name: str | None = None) -> Explanation:
    return explain(session.repo, target, rev=rev, engine=session.engine(engine_name))
