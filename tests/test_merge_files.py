"""Merges are read without their diff; a report reads the files of only the merges that may have brought in work
from outside its window, and says the same whatever the cache holds (narrator.git.merges)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from narrator.app.evidence import brought_in
from narrator.git.facts import CommitFacts, Person
from narrator.git.merges import merges_needing_files
from tests.conftest import BASE_DATE, GitRepo, run_narrate

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _facts(sha: str, *parents: str, minutes: int = 0) -> CommitFacts:
    who = Person("Ada", "ada@example.com")
    when = T0 + timedelta(minutes=minutes)
    return CommitFacts(sha=sha, parents=parents, author=who, committer=who, authored_at=when, committed_at=when,
                       subject=sha, is_merge=len(parents) > 1, files_known=len(parents) < 2)


def _window(*commits: CommitFacts) -> dict[str, CommitFacts]:
    return {c.sha: c for c in commits}


def test_a_merge_needs_its_files_only_when_a_commit_it_brought_in_may_lie_outside_the_window():
    # main: a - b - m (merges f1 - f2, forked at a)
    a, b, f1 = _facts("a", "x"), _facts("b", "a"), _facts("f1", "a")
    f2, m = _facts("f2", "f1"), _facts("m", "b", "f2")
    assert merges_needing_files(_window(a, b, f1, f2, m)) == []  # the whole branch is in the window
    assert merges_needing_files(_window(b, f1, f2, m)) == ["m"]  # forked outside: the fork may be brought in
    assert merges_needing_files(_window(a, b, f2, m)) == ["m"]  # f1 is outside the window
    assert merges_needing_files(_window(a, f1, f2, m)) == ["m"]  # its first parent is outside the window
    # a merge of main into the branch brings main's commits: b is in the window, so nothing is missing
    s = _facts("s", "f2", "b")
    assert merges_needing_files(_window(a, b, f1, f2, s)) == []
    # ... but one of main's commits outside the window makes it unknown
    c = _facts("c", "b")
    assert merges_needing_files(_window(c, f1, f2, _facts("s2", "f2", "c"))) == ["s2"]
    # a branch merged twice: the second merge brought only f3, but the walk stops on the first-parent chain
    # alone, so reaching f1 (outside, through f2) counts as unknown: the files are read (never guessed)
    f3 = _facts("f3", "f2")
    m2 = _facts("m2", "m", "f3")
    assert merges_needing_files(_window(b, m, f3, m2, f2)) == ["m", "m2"]
    assert merges_needing_files(_window(a, b, f1, f2, m, f3, m2)) == []


def test_brought_in_orders_commits_of_the_same_second_by_sha():
    base = _facts("base", "x")
    one, two = _facts("e" * 40, "base"), _facts("d" * 40, "e" * 40)
    merge = _facts("m", "base", "d" * 40, minutes=5)
    found = brought_in(merge, _window(base, one, two, merge), {"base", "m"})
    assert [c.sha for c in found] == ["d" * 40, "e" * 40]  # same committed_at: by sha, in every process


def _history(repo: GitRepo) -> tuple[str, str]:
    repo.commit("Add the parser", {"src/app/parser.py": "def parse(text):\n    return text.split()\n"},
                when=BASE_DATE)
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Add the exporter", {"src/app/export.py": "def export():\n    return 1\n"},
                when=BASE_DATE + timedelta(days=1))
    repo.commit("Test the exporter", {"tests/test_export.py": "def test_export():\n    assert 1\n"},
                when=BASE_DATE + timedelta(days=2))
    repo.git("checkout", "-q", "main")
    repo.commit("Fix empty input", {"src/app/parser.py": "def parse(text):\n    return (text or '').split()\n"},
                when=BASE_DATE + timedelta(days=3))
    merge = repo.merge("feature", "Merge branch 'feature'", when=BASE_DATE + timedelta(days=10))
    return repo.git("rev-parse", "feature"), merge


def _report(repo: GitRepo, since: str) -> dict:
    result = run_narrate("report", "--repo", str(repo.path), "--since", since, "--until", "2026-11-30",
                         "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _merge_entry(data: dict, sha: str) -> dict:
    return next(c for c in data["commits"] if c["sha"] == sha)


def test_a_report_reads_the_files_of_a_merge_only_when_its_branch_lies_outside_the_window(git_repo, isolated_env):
    _, merge = _history(git_repo)
    whole = _report(git_repo, "2026-11-01")  # the branch's commits are in the report: they say what changed
    entry = _merge_entry(whole, merge)
    assert (entry["files"], entry["lines_added"], entry["areas"]) == (0, 0, [])
    assert entry["narration"] == ("Merged the branch \u201cfeature\u201d, with \u201cAdd the exporter\u201d and "
                                  "\u201cTest the exporter\u201d.")  # the work it brought in, not a size
    assert whole["numbers"]["files_touched"] == 3

    late = _report(git_repo, "2026-11-10")  # only the merge is in the window: its files say what it brought
    entry = _merge_entry(late, merge)
    assert (entry["files"], entry["lines_added"]) == (2, 4)
    assert entry["narration"] == "Merged the branch \u201cfeature\u201d (2 files changed)."
    assert late["numbers"]["files_touched"] == 2

    # the cache now holds the merge with its files: the whole-history report still says the same as cold
    again = _report(git_repo, "2026-11-01")
    assert _content(again) == _content(whole)
    shutil.rmtree(Path(isolated_env / "cache"))
    assert _content(_report(git_repo, "2026-11-10")) == _content(late)


def _content(data: dict) -> dict:
    """The report without when it was made and how many narrations came from the cache."""
    data = dict(data, generated_at=None)
    data["engine"] = dict(data["engine"], narrations=None)
    return data


def test_a_merge_read_without_files_is_filled_when_shown_alone_or_filtered_by_path(git_repo):
    _, merge = _history(git_repo)
    _report(git_repo, "2026-11-01")  # caches the merge without its files
    import sqlite3

    from narrator.cache import cache_dir
    from narrator.git.facts import FACTS_VERSION

    with sqlite3.connect(cache_dir() / "cache.sqlite3") as db:  # apart from complete facts: an older narrator
        versions = [v for (v,) in db.execute("SELECT version FROM facts WHERE sha = ?", (merge,))]
    assert versions == [-FACTS_VERSION]  # (reading version FACTS_VERSION only) never takes it for an empty merge
    shown = run_narrate("commit", merge, "--repo", str(git_repo.path), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    facts = json.loads(shown.stdout)["facts"]
    assert sorted(f[0] for f in facts["files"]) == ["src/app/export.py", "tests/test_export.py"]
    assert "files_known" not in facts
    result = run_narrate("report", "--repo", str(git_repo.path), "--since", "2026-11-01", "--until", "2026-11-30",
                         "--format", "json", "--path", "tests")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {c["subject"] for c in data["commits"]} == {"Test the exporter", "Merge branch 'feature'"}
    by_author = run_narrate("report", "--repo", str(git_repo.path), "--since", "2026-11-01", "--until",
                            "2026-11-30", "--format", "json", "--author", "ada")
    assert by_author.returncode == 0, by_author.stderr  # a filter may drop the commits a merge brought in
    assert _merge_entry(json.loads(by_author.stdout), merge)["files"] == 2
    no_merges = run_narrate("report", "--repo", str(git_repo.path), "--since", "2026-11-01", "--until",
                            "2026-11-30", "--format", "json", "--no-merges")
    assert no_merges.returncode == 0 and not any(c["is_merge"] for c in json.loads(no_merges.stdout)["commits"])
