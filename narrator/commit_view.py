"""`narrate commit REV`: one commit's facts and plain-English narration, as data and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from narrator.config import Config
from narrator.engines import registry
from narrator.git.bots import bot_matcher
from narrator.git.classify import Classifier
from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.git.walker import Repository
from narrator.report.build import NoProgress, collect_facts, narrate


@dataclass(frozen=True)
class CommitView:
    facts: CommitFacts
    classification: Classification
    narration: Narration

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts.to_dict(), "classification": asdict(self.classification),
                "narration": self.narration.to_dict()}


def explain_commit(repo: Repository, rev: str, config: Config, cache, engine_name: str | None = None) -> CommitView:
    sha = repo.resolve(rev)
    facts = collect_facts(repo, [sha], cache, NoProgress())[sha]
    is_bot = bot_matcher(config.get("bots.patterns", []))
    from dataclasses import replace

    facts = replace(facts, is_bot=is_bot(facts.author))
    classification = Classifier(config.get("classify.rules", []), config.get("areas", {})).classify(facts)
    name = engine_name or config.get("engine", "heuristic")
    engine = registry.create(name, config.section(f"engines.{name}"))
    narrations, _ = narrate([facts], {sha: classification}, engine, repo, cache)
    return CommitView(facts, classification, narrations[sha])


def render_commit(view: CommitView, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(view.to_dict(), ensure_ascii=False, indent=2).replace("<", "\\u003c").replace(
            ">", "\\u003e").replace("&", "\\u0026")
    from narrator.report.render import md_escape

    f = view.facts
    lines = [
        f"**{md_escape(view.narration.text)}**",
        "",
        f"- commit: `{f.short_sha}`",
        f"- author: {md_escape(f.author.name)} ({f.authored_at.date().isoformat()})",
        f"- category: {md_escape(view.classification.category)}; areas: "
        f"{md_escape(', '.join(view.classification.areas) or 'none')}",
        f"- subject: {md_escape(f.subject)}",
        f"- {len(f.files):,} files, +{f.lines_added:,} / -{f.lines_deleted:,} lines",
        "",
    ]
    for fc in f.files[:200]:
        label = "binary" if fc.binary else f"+{fc.added:,} -{fc.deleted:,}"
        moved = f" (from {md_escape(fc.old_path)})" if fc.old_path else ""
        lines.append(f"  - {md_escape(fc.path)}{moved}: {fc.change_type.value}, {label}")
    if len(f.files) > 200:
        lines.append(f"  - ... and {len(f.files) - 200:,} more files")
    if view.narration.omitted:
        lines.append("")
        lines.append("Not read by the engine: " + md_escape(", ".join(view.narration.omitted)))
    return "\n".join(lines)


def print_commit(view: CommitView, console) -> None:
    from rich.table import Table
    from rich.text import Text

    f = view.facts
    console.print(Text(view.narration.text, style="bold"))
    console.print(Text(f"{f.short_sha}  {f.author.name}  {f.authored_at.date().isoformat()}  "
                       f"{view.classification.category}  ({', '.join(view.classification.areas) or 'no files'})",
                       style="dim"))
    console.print(Text(f.subject))
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("file")
    table.add_column("change")
    table.add_column("lines", justify="right")
    for fc in f.files[:50]:
        table.add_row(Text(fc.path), Text(fc.change_type.value),
                      Text("binary" if fc.binary else f"+{fc.added:,} -{fc.deleted:,}"))
    console.print(table)
    if len(f.files) > 50:
        console.print(Text(f"... and {len(f.files) - 50:,} more files", style="dim"))
