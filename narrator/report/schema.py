"""The JSON Schema of ``narrate report --format json``, generated from the report dataclasses' type hints.

``generate()`` walks ``Report`` (one repository) and ``TeamReport`` (several) field by field, so the schema
cannot drift from the model: a field added to a dataclass appears in the schema (and in the field tables of
``docs/json-schema.md``) after a refresh. Descriptions come from ``DESCRIPTIONS`` below, else from the
comment on the field's line in the model source. The refreshed schema ships as ``report.schema.json`` next to
this module (``narrate schema`` prints it); ``tests/test_schema.py`` fails when the shipped file or the docs
tables differ from what the code generates. Refresh both with::

    python -m narrator.report.schema --write
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import io
import json
import re
import sys
import tokenize
import types
import typing
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from narrator.report.model import SCHEMA_VERSION, Report
from narrator.report.team import TeamReport

__all__ = ["SCHEMA_FILE", "DESCRIPTIONS", "generate", "schema_text", "shipped_text", "docs_tables",
           "update_docs"]

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
SCHEMA_ID = f"urn:narrator:report-schema:{SCHEMA_VERSION}"
DOCS_BEGIN = "<!-- generated field tables: begin (python -m narrator.report.schema --write) -->"
DOCS_END = "<!-- generated field tables: end -->"

# Field meanings that the model's source does not already say in a comment. "Class.field" -> one sentence.
DESCRIPTIONS: dict[str, str] = {
    "Report.schema_version": "Version of this JSON layout; it changes when a field changes meaning or goes away.",
    "Report.title": "The report's title.",
    "Report.repository": "The repository's name (its directory name).",
    "Report.revision": "What was walked: the branch name, the revisions given, or 'all branches'.",
    "Report.since": "Start of the window (inclusive, ISO 8601 with offset); empty when the report starts at the "
                    "first commit.",
    "Report.until": "End of the window (inclusive, ISO 8601 with offset).",
    "Report.period_label": "The window in words, e.g. '1 to 14 March 2026'.",
    "Report.generated_at": "When the report was made (SOURCE_DATE_EPOCH pins it for reproducible output).",
    "Report.timezone": "The zone every date and day of the report is in.",
    "Report.empty": "True when the window holds no commit at all.",
    "Report.headline": "The summary at the top, built from the numbers (or written by a model, see "
                       "engine.headline_source).",
    "Report.highlights": "The most significant work, features, fixes and performance first.",
    "Report.releases": "Tags on commits of the window.",
    "Report.categories": "Work commits (no merges, no automated accounts) by category, in the report's order.",
    "Report.areas": "Work commits by area of the code base (one commit may count in several areas).",
    "Report.people": "Work commits per person (after .mailmap); shown only when per_person is true.",
    "Report.per_person": "Whether the per-person table is shown.",
    "Report.attention": "What needs a manager's attention: breaking changes, large untested changes, reverts, "
                        "a high share of fixes, hotspots, work resting on one person, automated noise.",
    "Report.activity": "Commits by people per day (per week for windows longer than 120 days).",
    "Report.peak_days": "The busiest one or two entries of activity.",
    "Report.numbers": "The report's figures.",
    "Report.comparison": "The same figures for the comparison period (--compare-with; default the period of "
                         "the same length before); null when there is none.",
    "Report.bots": "Commits by automated accounts, listed apart from the team's work.",
    "Report.merges": "Merge commits by people.",
    "Report.commits": "Every commit of the window, in git log order (newest first).",
    "Report.engine": "The narration engine: name, fingerprint, prompt_version, model (the model that wrote, for "
                     "model engines, else null), narrations (counts by origin: cached, model, heuristic, fallback; "
                     "fallbacks by why: rejected by the guard, no_code to read, merge commits, model unavailable) and "
                     "headline_source (facts or model).",
    "Report.notes": "Remarks about the report itself (a shallow clone, an unreadable earlier period...).",
    "CommitEntry.sha": "Full commit id.",
    "CommitEntry.short_sha": "Abbreviated commit id.",
    "CommitEntry.date": "Commit time in the report's zone (ISO 8601, minutes).",
    "CommitEntry.day": "Commit day in the report's zone (YYYY-MM-DD).",
    "CommitEntry.author": "Author name after .mailmap (the e-mail when there is no name).",
    "CommitEntry.subject": "First line of the commit message, as written (untrusted text).",
    "CommitEntry.category": "Category of the change (see narrator.categories).",
    "CommitEntry.areas": "Areas of the code base the change touched (none for a merge whose files were not read).",
    "CommitEntry.narration": "The plain-English sentence describing the change.",
    "CommitEntry.narration_source": "Who wrote the sentence: model, heuristic, or none.",
    "CommitEntry.files": "Files changed. A merge counts its diff against its first parent only when it may have "
                         "brought in commits outside the report; otherwise 0 (the commits it brought in are in the "
                         "report and count their own files and lines).",
    "CommitEntry.lines_added": "Lines added (0 for a merge whose files were not read, as for files).",
    "CommitEntry.lines_deleted": "Lines removed (0 for a merge whose files were not read, as for files).",
    "CommitEntry.is_merge": "A merge commit.",
    "CommitEntry.is_revert": "A commit undoing another.",
    "CommitEntry.is_bot": "Made by an automated account.",
    "CommitEntry.breaking": "Marked as a breaking change.",
    "CommitEntry.omitted": "What the narration left out on purpose (e.g. redacted secrets).",
    "Highlight.text": "The sentence shown.",
    "Highlight.day": "Day in words ('19 February').",
    "Highlight.category": "Category of the change.",
    "Highlight.areas": "Areas it touched.",
    "Highlight.author": "Who made it.",
    "Highlight.sha": "The commit.",
    "CategorySummary.share": "Share of the work commits (0 to 1).",
    "CategorySummary.items": "The category's commits.",
    "AreaSummary.files": "Distinct files touched in this area.",
    "AreaSummary.categories": "[category, commits] pairs, most first.",
    "AreaSummary.what": "The area's main kinds of work, in words.",
    "AreaSummary.items": "The area's commits.",
    "PersonSummary.categories": "[category, commits] pairs, most first.",
    "AttentionItem.kind": "breaking, untested, reverts, fix-share, hotspots, concentration or bots.",
    "AttentionItem.title": "One line saying what needs attention.",
    "AttentionItem.detail": "Why it matters.",
    "AttentionItem.items": "The commits or files concerned, in words.",
    "DayActivity.day": "The day (or the Monday of the week), YYYY-MM-DD.",
    "DayActivity.label": "The day or week in words.",
    "DayActivity.commits": "Commits by people that day or week.",
    "Numbers.commits": "Every commit of the window.",
    "Numbers.work_commits": "Commits by people that are not merges: the team's work.",
    "Numbers.merges": "Merge commits by people.",
    "Numbers.pr_merges": "Merges bringing in a reviewed contribution (pull request).",
    "Numbers.branch_syncs": "Other merges (one branch synced into another).",
    "Numbers.bot_commits": "Commits by automated accounts.",
    "Numbers.contributors": "Distinct people with work commits (after .mailmap).",
    "Numbers.files_touched": "Distinct files changed by people.",
    "Numbers.lines_added": "Lines added by work commits.",
    "Numbers.lines_deleted": "Lines removed by work commits.",
    "Numbers.active_days": "Days with at least one commit by people.",
    "Numbers.days_in_period": "Length of the window in days.",
    "Comparison.label": "The comparison period in words.",
    "Comparison.categories": "[category, commits] pairs of its work commits, most first.",
    "Comparison.summary": "One sentence comparing the two periods.",
    "Release.name": "The tag.",
    "Release.day": "Day in words.",
    "Release.sha": "The tagged commit.",
    "TeamReport.schema_version": "Version of this JSON layout (the same numbering as one repository's report).",
    "TeamReport.since": "Start of the window shared by every repository (ISO 8601).",
    "TeamReport.until": "End of the window (inclusive, ISO 8601).",
    "TeamReport.headline": "The team's summary at the top, built from every repository's numbers.",
    "TeamReport.numbers": "The team's figures.",
    "TeamReport.work": "Where the work went: one row per repository, most work first.",
    "TeamReport.people": "Every person once, with their work commits across repositories.",
    "TeamReport.per_person": "Whether the per-person table is shown.",
    "TeamReport.comparison": "The team's totals in the comparison period; null when some repository has none.",
    "TeamReport.repositories": "One section per repository, in the order given.",
    "TeamReport.problems": "Repositories that could not be read; the report is partial when this is not empty.",
    "TeamReport.engine": "The narration engine (as in one repository's report).",
    "TeamReport.notes": "Remarks about the team report (e.g. repositories committing in other time zones).",
    "TeamReport.title": "The team report's title.",
    "TeamReport.period_label": "The window in words.",
    "TeamReport.generated_at": "When the report was made.",
    "TeamReport.timezone": "The zone every repository's dates are in.",
    "RepositoryRow.share": "Share of the team's work commits (0 to 1).",
    "RepositoryRow.releases": "Tags of this repository in the window.",
}


# -- generation ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _comments(cls: type) -> dict[str, str]:
    """``field -> the comment on its line`` in the class source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    by_line: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                by_line[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        return {}
    out = {}
    for number, line in enumerate(source.splitlines(), start=1):
        match = re.match(r"\s+(\w+)\s*:", line)
        if match and number in by_line:
            out[match.group(1)] = by_line[number]
    return out


def _description(cls: type, name: str) -> str:
    return DESCRIPTIONS.get(f"{cls.__name__}.{name}") or _comments(cls).get(name, "")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Union or isinstance(tp, getattr(types, "UnionType", ()))


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one annotated type (dataclasses go to ``defs`` and are referenced)."""
    if tp is Any or tp is object:
        return {}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        _define(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is datetime:
        return {"type": "string", "format": "date-time"}
    if tp is date:
        return {"type": "string", "format": "date"}
    if tp is type(None):
        return {"type": "null"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if _is_union(tp):
        options = [a for a in args if a is not type(None)]
        choices = [_schema(a, defs) for a in options]
        if datetime in options:  # a report without a start writes "" (narrator.report.json_out)
            choices.append({"type": "string", "const": ""})
        if type(None) in args:
            choices.append({"type": "null"})
        return choices[0] if len(choices) == 1 else {"anyOf": choices}
    if origin in (list, set, frozenset) or tp in (list, set, frozenset) or \
            origin in (typing.Sequence, getattr(__import__("collections.abc").abc, "Sequence")):
        return {"type": "array", "items": _schema(args[0], defs)} if args else {"type": "array"}
    if origin is tuple or tp is tuple:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0], defs)}
        return {"type": "array", "prefixItems": [_schema(a, defs) for a in args], "items": False,
                "minItems": len(args), "maxItems": len(args)}
    if origin is dict or tp is dict or origin in (typing.Mapping, getattr(__import__("collections.abc").abc,
                                                                          "Mapping")):
        schema: dict[str, Any] = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            schema["additionalProperties"] = _schema(args[1], defs)
        return schema
    raise TypeError(f"narrator.report.schema cannot describe the type {tp!r}; teach _schema about it")


def _define(cls: type, defs: dict[str, Any]) -> None:
    if cls.__name__ in defs:
        return
    defs[cls.__name__] = {}  # placeholder: recursive references stop here
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        prop = dict(_schema(hints[f.name], defs))
        text = _description(cls, f.name)
        if text:
            prop = {"description": text, **prop} if "$ref" not in prop else {"description": text, "allOf": [prop]}
        properties[f.name] = prop
    doc = inspect.cleandoc(cls.__doc__ or "")
    generated_doc = doc.startswith(f"{cls.__name__}(")  # dataclasses invent "Name(field: type, ...)"
    body: dict[str, Any] = {"type": "object"}
    if doc and not generated_doc:
        body["description"] = " ".join(doc.split("\n\n")[0].split())
    body.update({"properties": properties, "required": list(properties), "additionalProperties": False})
    defs[cls.__name__] = body


def generate() -> dict[str, Any]:
    """The schema document: a report of one repository (``Report``) or of several (``TeamReport``)."""
    defs: dict[str, Any] = {}
    _define(Report, defs)
    _define(TeamReport, defs)
    defs["Report"]["properties"]["schema_version"] = {**defs["Report"]["properties"]["schema_version"],
                                                      "const": SCHEMA_VERSION}
    team = defs["TeamReport"]["properties"]
    team["schema_version"] = {**team["schema_version"], "const": SCHEMA_VERSION}
    team["kind"] = {**team["kind"], "const": "team"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "narrator report",
        "description": "The JSON of `narrate report --format json`: one repository's report (Report) or a team "
                       "report over several repositories (TeamReport, kind 'team'), whose repositories[].report "
                       "are Reports. Also the context every template receives.",
        "schema_version": SCHEMA_VERSION,
        "oneOf": [{"$ref": "#/$defs/Report"}, {"$ref": "#/$defs/TeamReport"}],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """The generated schema as the shipped file spells it."""
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def shipped_text() -> str:
    """The schema file shipped in the package (what ``narrate schema`` prints)."""
    return SCHEMA_FILE.read_text(encoding="utf-8")


# -- documentation tables ---------------------------------------------------------------------------------

def _type_words(prop: dict[str, Any]) -> str:
    if "allOf" in prop:
        return _type_words(prop["allOf"][0])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        words = []
        for option in prop["anyOf"]:
            word = '""' if option.get("const") == "" else _type_words(option)
            if word not in words:
                words.append(word)
        return " or ".join(words)
    if "const" in prop:
        return f"{json.dumps(prop['const'])}"
    if "enum" in prop:
        return " / ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type_words(p) for p in prop["prefixItems"]) + "]"
        items = prop.get("items")
        return f"list of {_type_words(items)}" if isinstance(items, dict) else "list"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"object of {_type_words(extra)}" if isinstance(extra, dict) else "object"
    if kind == "string" and prop.get("format"):
        return prop["format"]
    return str(kind or "any")


def docs_tables(schema: dict[str, Any] | None = None) -> str:
    """Markdown tables of every object of the schema: field, type, meaning."""
    schema = schema or generate()
    defs = schema["$defs"]
    order = ["Report", "TeamReport"] + [n for n in defs if n not in ("Report", "TeamReport")]
    parts = []
    for name in order:
        body = defs[name]
        parts.append(f"### {name}\n")
        if body.get("description"):
            parts.append(body["description"] + "\n")
        parts.append("| field | type | meaning |\n|---|---|---|")
        for field_name, prop in body["properties"].items():
            meaning = prop.get("description", "").replace("|", "\\|")
            type_words = _type_words(prop).replace("|", "\\|")
            parts.append(f"| `{field_name}` | {type_words} | {meaning} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def update_docs(text: str, tables: str | None = None) -> str:
    """``docs/json-schema.md`` with its generated section replaced by the current tables."""
    tables = tables or docs_tables()
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < start:
        raise ValueError(f"docs/json-schema.md lacks the markers {DOCS_BEGIN!r} and {DOCS_END!r}")
    return text[: start + len(DOCS_BEGIN)] + "\n\n" + tables + "\n" + text[end:]


def _main(argv: list[str]) -> int:
    if argv[:1] != ["--write"]:
        sys.stdout.write(schema_text())
        return 0
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
    docs = Path(__file__).resolve().parents[2] / "docs" / "json-schema.md"
    if docs.is_file():
        docs.write_text(update_docs(docs.read_text(encoding="utf-8")), encoding="utf-8")
    sys.stderr.write(f"wrote {SCHEMA_FILE}" + (f" and {docs}\n" if docs.is_file() else "\n"))
    return 0


if __name__ == "__main__":  # the refresh command: python -m narrator.report.schema --write
    raise SystemExit(_main(sys.argv[1:]))
