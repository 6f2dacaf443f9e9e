"""The JSON Schema of the report: generated from the dataclasses, shipped, printed, documented, and true.

The shipped file and the docs tables must equal what the code generates (refresh:
``python -m narrator.report.schema --write``); the JSON of real reports (many shapes: releases, merges, bots,
co-authors, an empty window, hostile text, no comparison, team reports, the golden fixtures) must validate,
and the schema must reject what is not a report.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from conftest import BASE_DATE, GitRepo, run_narrate
from narrator.report import schema as schema_module

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ("--since", "2026-11-01", "--until", "2026-11-14")
HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", "{% raw %}", "\x1b[31mred\x1b[0m", "\u202eevil",
           "</style><h1>x</h1>", "[x](javascript:alert(1))", "emoji \U0001f600 \u2028 line"]


def checker() -> Any:
    """date-time checked for real (jsonschema leaves it unchecked without an extra package)."""
    formats = jsonschema.FormatChecker()

    @formats.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"{value} has no UTC offset")
        return True

    return formats


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(schema_module.shipped_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=checker())


def assert_valid(validator, instance: Any) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])


# -- the shipped file, the command, the docs ------------------------------------------------------------------

def test_shipped_schema_is_the_generated_one():
    assert schema_module.shipped_text() == schema_module.schema_text(), (
        "narrator/report/report.schema.json is out of date: run python -m narrator.report.schema --write")


def test_docs_tables_are_the_generated_ones():
    docs = (ROOT / "docs" / "json-schema.md").read_text(encoding="utf-8")
    assert schema_module.update_docs(docs) == docs, (
        "docs/json-schema.md is out of date: run python -m narrator.report.schema --write")
    for name in ("### Report", "### TeamReport", "### CommitEntry", "| `headline` |"):
        assert name in docs


def test_narrate_schema_prints_the_shipped_file():
    proc = run_narrate("schema")
    assert proc.returncode == 0 and proc.stdout == schema_module.shipped_text()
    schema = json.loads(proc.stdout)
    assert schema["schema_version"] == 1 and schema["$schema"].endswith("2020-12/schema")
    assert schema["$defs"]["Report"]["properties"]["schema_version"]["const"] == 1
    assert set(schema["$defs"]["Report"]["required"]) == set(schema["$defs"]["Report"]["properties"])


@dataclass
class Part:
    pairs: list[tuple[str, int]]
    kind: Literal["a", "b"]
    seen: datetime | None  # when it was seen


@dataclass
class Whole:
    parts: list[Part]
    extra: dict[str, Any]
    counts: dict[str, int]
    maybe: Part | None
    tags: tuple[str, ...]


def test_the_generator_follows_the_type_hints():
    """A new field of any of these shapes appears in the schema by itself."""
    defs: dict[str, Any] = {}
    assert schema_module._schema(Whole, defs) == {"$ref": "#/$defs/Whole"}
    whole, part = defs["Whole"]["properties"], defs["Part"]["properties"]
    assert whole["parts"] == {"type": "array", "items": {"$ref": "#/$defs/Part"}}
    assert whole["extra"] == {"type": "object"} and whole["counts"]["additionalProperties"] == {"type": "integer"}
    assert whole["maybe"] == {"anyOf": [{"$ref": "#/$defs/Part"}, {"type": "null"}]}
    assert whole["tags"] == {"type": "array", "items": {"type": "string"}}
    assert part["pairs"]["items"]["prefixItems"] == [{"type": "string"}, {"type": "integer"}]
    assert part["kind"] == {"enum": ["a", "b"]}
    assert part["seen"]["description"] == "when it was seen"  # the field's comment
    assert defs["Part"]["required"] == ["pairs", "kind", "seen"] and defs["Part"]["additionalProperties"] is False


# -- real reports validate ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def busy(tmp_path_factory) -> GitRepo:
    """Features, fixes, a revert, a large untested change, merges, a bot, co-authors, a release, hostile text."""
    repo = GitRepo(tmp_path_factory.mktemp("schema") / "busy")
    ada, bob = ("Ada Lovelace", "ada@example.com"), ("Bob Builder", "bob@example.com")
    repo.commit("Initial commit", {"README.md": "# Busy\n"}, when=BASE_DATE - timedelta(days=20))
    for n in range(6):
        repo.commit(f"feat: widget {n} {HOSTILE[n % len(HOSTILE)]}", {f"src/w{n}.py": "x = 1\n" * (500 if n == 0
                    else 5)}, author=ada if n % 2 else bob, when=BASE_DATE + timedelta(hours=5 * n + 1))
    repo.commit("fix: crash\n\nCo-authored-by: Carol <carol@example.com>", {"src/w1.py": "x = 2\n"},
                when=BASE_DATE + timedelta(days=2))
    repo.commit("Revert \"fix: crash\"", {"src/w1.py": "x = 1\n"}, when=BASE_DATE + timedelta(days=2, hours=2))
    repo.commit("chore(deps): bump lib", {"requirements.txt": "lib==2\n"}, author=("dependabot[bot]",
                "bot@example.com"), when=BASE_DATE + timedelta(days=3))
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("feat!: new API", {"src/api.py": "def api():\n    pass\n"}, when=BASE_DATE + timedelta(days=4))
    repo.git("checkout", "-q", "main")
    repo.merge("topic", "Merge pull request #7 from bob/topic", when=BASE_DATE + timedelta(days=4, hours=1))
    repo.git("tag", "v2.0.0")
    return repo


def report(repo: GitRepo, *args: str) -> dict[str, Any]:
    proc = run_narrate("report", "--repo", str(repo.path), "--format", "json", *args)
    assert proc.returncode in (0, 4), proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("args", [
    WINDOW,
    (*WINDOW, "--per-person", "--detail", "full"),
    (*WINDOW, "--compare-with", "none"),
    (*WINDOW, "--include-bots", "--no-merges"),
    ("--since", "2026-12-01", "--until", "2026-12-14"),  # an empty window after the history
    ("--since", "2020-01-01", "--until", "2020-01-14"),  # an empty window before it
    ("--since", "2026-09-01", "--until", "2026-12-31"),  # a long window: weekly activity
    (*WINDOW, "--all-branches", "--author", "Ada"),
])
def test_real_reports_validate(busy, validator, args):
    context = report(busy, *args)
    assert_valid(validator, context)
    assert "kind" not in context


def test_the_busy_report_has_every_part(busy, validator):
    context = report(busy, *WINDOW, "--per-person")
    assert context["releases"] and context["merges"] and context["bots"] and context["attention"]
    assert context["numbers"]["co_authors"] == ["Carol"] and context["comparison"] is not None
    assert any("<script>" in c["subject"] for c in context["commits"])


def test_in_process_contexts_validate_too(busy, validator):
    from narrator.app.report import ReportRequest, build
    from narrator.app.session import Session

    with Session.open(str(busy.path)) as session:
        built = build(session, ReportRequest(since="2026-11-01", until="2026-11-14"))
    assert_valid(validator, built.to_context())
    assert_valid(validator, json.loads(json.dumps(built.to_context())))


def test_team_reports_validate(busy, validator, tmp_path):
    other = GitRepo(tmp_path / "docs-site")
    other.commit("docs: {{ 7*7 }} <b>hi</b>", {"index.md": "# Hi\n"}, when=BASE_DATE + timedelta(hours=3))
    proc = run_narrate("report", "--repo", str(busy.path), "--repo", str(other.path), "--repo",
                       str(tmp_path / "missing"), *WINDOW, "--format", "json", "--per-person")
    assert proc.returncode == 4
    context = json.loads(proc.stdout)
    assert_valid(validator, context)
    assert context["kind"] == "team" and context["partial"]
    for section in context["repositories"]:
        assert_valid(validator, section["report"])  # each section is a Report on its own
    quiet = run_narrate("report", "--repo", str(busy.path), "--repo", str(other.path), "--since", "2027-01-01",
                        "--until", "2027-01-10", "--format", "json")
    assert_valid(validator, json.loads(quiet.stdout))


def test_golden_fixture_reports_validate(validator):
    found = sorted((ROOT / "tests" / "golden").glob("*/expected.json"))
    assert found
    for path in found:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "schema_version" in data:  # report scenarios (commit views have their own shape)
            assert_valid(validator, data)


def test_the_schema_rejects_what_is_not_a_report(busy, validator):
    context = report(busy, *WINDOW)
    for change in (
        lambda c: c.pop("headline"),
        lambda c: c.__setitem__("surprise", 1),
        lambda c: c["numbers"].__setitem__("commits", "many"),
        lambda c: c["commits"][0].__setitem__("files", 1.5),
        lambda c: c.__setitem__("until", "next tuesday"),
        lambda c: c.__setitem__("schema_version", 99),
        lambda c: c["areas"][0]["categories"].append(["Features"]),
    ):
        broken = copy.deepcopy(context)
        change(broken)
        assert list(validator.iter_errors(broken)), "the schema accepted a broken report"
