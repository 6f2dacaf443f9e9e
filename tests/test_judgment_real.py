"""Reports on real histories in other languages (echo, composer, jekyll, lodash, guice): what a manager reads
must say what these windows delivered and what needs attention. Skipped without the clones in /work/repos,
which are only read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_narrate

REPOS = Path("/work/repos")


def report(name: str, since: str, until: str) -> dict:
    if not (REPOS / name / ".git").exists():
        pytest.skip(f"{REPOS / name} not available")
    result = run_narrate("report", "--since", since, "--until", until, "--format", "json", cwd=REPOS / name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def commit(data: dict, prefix: str) -> dict:
    return next(c for c in data["commits"] if c["sha"].startswith(prefix))


def attention(data: dict, kind: str) -> list[str]:
    return next((a["items"] for a in data["attention"] if a["kind"] == kind), [])


def test_composer_may_2026():
    data = report("composer", "2026-05-01", "2026-05-31")
    assert [r["name"] for r in data["releases"]] == ["2.9.8", "2.10.0"]  # 2.10.0-RC2 superseded, 2.2.28 not ours
    # the 2.10.0 changelog cites the pull requests; their merges brought the work in
    assert commit(data, "9278cfbd4")["tier"] == "security"  # uppercase URL schemes: https requirement bypass
    assert commit(data, "3873b5271")["description"].startswith("Disabled automatic fallback to source checkout")
    assert commit(data, "f240bbed5")["description"].startswith("Minor break for audit consumers")
    assert len(attention(data, "security")) == 3
    assert any("(the security fix above; command-line option removed: --source-fallback" in i
               for i in attention(data, "behaviour"))
    assert all(h["tier"] in ("security", "behaviour", "feature", "fix") for h in data["highlights"])


def test_echo_june_july_2026():
    data = report("echo", "2026-06-10", "2026-07-31")
    assert [r["name"] for r in data["releases"]] == ["v5.2.0", "v5.2.1", "v5.3.0", "v5.3.1"]  # not v4.15.x
    assert commit(data, "78c3d954")["tier"] == "security"  # v5.2.1's Security section, after a code fence
    assert commit(data, "8d1ae9d3")["description"] == "reject encoded path separators that bypass route-level " \
                                                      "middleware"  # not the entry that talks about #3009
    assert not commit(data, "2d9b2aa3")["is_revert"]  # "Revert back to v4 behavior ..." changes behaviour
    assert not attention(data, "reverts")
    assert data["numbers"]["co_authors"] == ["KeloYuan"]  # the coding assistant is no co-author
    texts = " ".join(h["text"] for h in data["highlights"])
    assert "Revert back to v4 behavior for group registering implicit 404 handlers." in texts  # its full title
    assert [h["tier"] for h in data["highlights"]][:3] == ["security"] * 3


def test_jekyll_release_window():
    data = report("jekyll", "2024-12-01", "2025-02-15")
    fix = commit(data, "c5cd1fb04")
    assert fix["tier"] == "fix" and fix["description"] == "Restore globbed path behavior in front matter defaults"
    assert commit(data, "2db7db7c4")["tier"] != "behaviour"  # Cucumber's formatter is test support
    assert commit(data, "d5e62d0ca")["tier"] == "feature"  # its entry came in jekyllbot's history commit
    assert "features" not in [a["name"] for a in data["areas"]]
    everything = json.dumps(data["highlights"]) + json.dumps(data["releases"])
    assert "{{" not in everything and "](" not in everything and "&amp;" not in everything


def test_lodash_security_releases():
    data = report("lodash", "2025-12-01", "2026-04-30")
    assert [h["tier"] for h in data["highlights"]] == ["security"] * 3
    assert commit(data, "19c9251b3")["tier"] == "docs"  # a JSDoc return type
    assert commit(data, "1073a7693")["tier"] == "refactor"  # "fix: linting issues"
    assert any("GHSA-r5fr-rjxr-66jc" in i for i in attention(data, "security"))
    assert data["headline"].endswith("Most code changes were in the lodash core.")
    assert "dist" not in [a["name"] for a in data["areas"]]


def test_guice_6_and_7():
    data = report("guice", "2023-04-01", "2023-05-31")
    assert [r["name"] for r in data["releases"]] == ["6.0.0", "7.0.0"]  # tagged beside master, candidates left
    assert data["headline"].startswith("Released 6.0.0 and 7.0.0 (12 May).")
    assert commit(data, "e68fab652")["tier"] == "behaviour"  # "This is a breaking change, but to a better ..."
    assert {"core/src", "core/test", "project root"}.isdisjoint(a["name"] for a in data["areas"])
    assert any("\u201cand\u201d and \u201cor\u201d" in h["text"] for h in data["highlights"])
