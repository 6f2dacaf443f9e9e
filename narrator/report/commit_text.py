"""One commit as text: Markdown or JSON (``render_commit``) and the terminal view (``print_commit``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from narrator.git.facts import Classification, CommitFacts, Narration
from narrator.report.json_out import dumps_safe
from narrator.report.text import md_escape, one_line


@dataclass(frozen=True)
class CommitView:
    """One commit as ``narrate commit`` shows it: its facts, classification and narration."""

    facts: CommitFacts
    classification: Classification
    narration: Narration

    def to_dict(self) -> dict[str, Any]:
        return {"facts": self.facts.to_dict(), "classification": asdict(self.classification),
                "narration": self.narration.to_dict()}

def render_commit(view: CommitView, fmt: str) -> str:
    if fmt == "json":
        return dumps_safe(view.to_dict())

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
    console.print(Text(one_line(view.narration.text), style="bold"))
    console.print(Text(one_line(f"{f.short_sha}  {f.author.name}  {f.authored_at.date().isoformat()}  "
                                f"{view.classification.category}  "
                                f"({', '.join(view.classification.areas) or 'no files'})"), style="dim"))
    console.print(Text(one_line(f.subject)))
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("file")
    table.add_column("change")
    table.add_column("lines", justify="right")
    for fc in f.files[:50]:
        table.add_row(Text(one_line(fc.path)), Text(fc.change_type.value),
                      Text("binary" if fc.binary else f"+{fc.added:,} -{fc.deleted:,}"))
    console.print(table)
    if len(f.files) > 50:
        console.print(Text(f"... and {len(f.files) - 50:,} more files", style="dim"))
