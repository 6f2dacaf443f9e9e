"""Judging while git walks (``JudgedAhead``): a report made with the commits judged batch by batch during the
walk is the same, in every format, as one judged after the walk; the diffs to read are chosen the same way; a
merge whose files are read after the walk is judged again with them."""

from __future__ import annotations

import importlib.util
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import narrator.app.evidence as stage
import narrator.app.report as report_case
import narrator.app.session as session_module
from narrator.app.diff_evidence import evidence_from_diffs
from narrator.app.report import ReportRequest, build
from narrator.app.session import Session
from narrator.report.json_out import context_json
from narrator.report.render import render

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _one_moment(monkeypatch):
    """Every report generated at one pinned moment (the Markdown footer names the minute it was made)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")


def _history(repo) -> None:
    """Work with changelog entries, release notes naming other commits, a pull request merged, a revert, a bot
    and a breaking marker; a branch started before the window so its merge's files must be read."""
    repo.commit("Add the parser", {"src/app/parser.py": "def parse(text):\n    return text.split()\n"},
                when=datetime(2025, 12, 1, tzinfo=timezone.utc))
    repo.git("checkout", "-q", "-b", "old-branch")
    repo.commit("Add CSV export", {"src/app/export.py": "def export(rows):\n    return ','.join(rows)\n"},
                when=datetime(2025, 12, 2, tzinfo=timezone.utc))
    repo.git("checkout", "-q", "main")
    repo.clock = datetime(2026, 1, 5, tzinfo=timezone.utc)
    repo.commit("Fix empty input in the parser", {"src/app/parser.py": "def parse(text):\n"
                                                                        "    return (text or '').split()\n"})
    repo.commit("feat!: drop the --legacy option", {"src/app/cli.py": "import click\n\n@click.option('--fast')\n"
                                                                      "def main(fast):\n    pass\n"})
    repo.commit("Speed up parsing of long files", {"src/app/parser.py": "def parse(text):\n"
                                                                        "    return (text or '').split(None)\n"})
    repo.commit("Bump requests from 2.31.0 to 2.32.0", {"requirements.txt": "requests==2.32.0\n"},
                author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Add JSON export", {"src/app/json_export.py": "import json\n\ndef export(rows):\n"
                                                              "    return json.dumps(rows)\n"})
    repo.git("checkout", "-q", "main")
    repo.merge("feature", "Merge pull request #12 from team/feature\n\nAdd JSON export")
    repo.merge("old-branch", "Merge branch 'old-branch'")
    repo.commit("docs: explain the parser", {"docs/parser.md": "# Parser\n\nSplits text.\n"})
    revert_of = repo.commit("Add a debug flag", {"src/app/debug.py": "DEBUG = True\n"})
    repo.commit(f'Revert "Add a debug flag"\n\nThis reverts commit {revert_of}.', {"src/app/debug.py": None})
    repo.commit("Release 1.2.0", {"CHANGES.md": "# Changes\n\n## 1.2.0\n\n### Fixed\n\n"
                                                "- Empty input in the parser no longer fails.\n\n### Added\n\n"
                                                "- JSON export (#12).\n- Parsing of long files is faster.\n"})


def _outputs(repo_path: Path, ahead: bool, flush: int = 2000, limit: int = 400, diffs_from: float = 0.5
             ) -> list[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session_module, "_FACTS_FLUSH", flush)
        patch.setattr(stage, "PATCH_LIMIT", limit)
        patch.setattr(stage, "DIFFS_AHEAD_FROM", diffs_from)
        if not ahead:
            patch.setattr(report_case, "JudgedAhead", lambda *args, **kwargs: None)
        with Session.open(str(repo_path), {"timezone": "UTC"}) as session:
            report = build(session, ReportRequest(since="2026-01-01", until="2026-03-01"))
            stamp = report.generated_at.isoformat()
            return [context_json(report).replace(stamp, ""), render(report, "md", detail="full").replace(stamp, "")]


def _cold(repo_path: Path, ahead: bool, flush: int, limit: int, diffs_from: float = 0.5) -> list[str]:
    shutil.rmtree(Path(os.environ["NARRATOR_CACHE_DIR"]), ignore_errors=True)
    return _outputs(repo_path, ahead, flush, limit, diffs_from)


@pytest.mark.parametrize("flush,limit", [(2000, 400), (2, 2), (1, 1)])
def test_judging_during_the_walk_changes_no_output(git_repo, monkeypatch, flush, limit):
    _history(git_repo)
    after_walk = _cold(git_repo.path, False, flush, limit)
    during_walk = _cold(git_repo.path, True, flush, limit)
    assert during_walk == after_walk
    assert "Empty input in the parser no longer fails." in during_walk[0]  # release notes matched a commit
    warm = _outputs(git_repo.path, True, flush, limit)  # and a warm run says the same, all from the cache
    assert '"cached":11,' in warm[0] and warm[0].replace('"cached":11,', '"cached":0,') == after_walk[0]


@pytest.mark.parametrize("flush,limit,diffs_from", [(1, 1, 0.0), (1, 2, 0.0), (2, 1, 0.9), (2000, 400, 1.1)])
def test_diffs_read_during_the_walk_change_no_output(git_repo, monkeypatch, flush, limit, diffs_from):
    """Diffs read ahead from the start (every commit that joins the best list, most of them dropped later), late,
    or never: the same report."""
    _history(git_repo)
    after_walk = _cold(git_repo.path, False, flush, limit)
    assert _cold(git_repo.path, True, flush, limit, diffs_from) == after_walk


def test_a_failed_read_ahead_leaves_the_diffs_to_judging(git_repo, monkeypatch):
    """git failing on the diffs read during the walk: judging reads them itself, and says the same."""
    import narrator.app.diff_evidence as diff_evidence
    from narrator.errors import RepositoryError

    _history(git_repo)
    after_walk = _cold(git_repo.path, False, 2000, 400)

    def broken(repo, shas, background=False):
        raise RepositoryError("git log failed: simulated")
        yield  # pragma: no cover - a generator, as read_patches is

    monkeypatch.setattr(diff_evidence, "read_patches", broken)
    assert _cold(git_repo.path, True, 1, 400, 0.0) == after_walk


def test_judging_reads_only_the_diffs_not_read_during_the_walk(tmp_path, monkeypatch):
    """Every chosen commit was on the running best list once reading began, so its diff was read during the
    walk and none is read again after it; their evidence is what judging would make of those diffs. (Diffs that
    were never asked for, or whose read failed, are read after the walk: the failed-read test.)"""
    _synthetic(tmp_path / "synth", 300)
    monkeypatch.setattr(session_module, "_FACTS_FLUSH", 37)
    monkeypatch.setattr(stage, "PATCH_LIMIT", 25)
    monkeypatch.setattr(stage, "DIFFS_AHEAD_FROM", 0.6)
    read_after: list[str] = []
    real = stage.read_patches

    def spy(repo, shas):
        read_after.extend(shas)
        return real(repo, shas)

    monkeypatch.setattr(stage, "read_patches", spy)
    with Session.open(str(tmp_path / "synth")) as session:
        request = ReportRequest(since="2000-01-01", until="2026-12-01")
        outcome = report_case.walk(session, request, report_case.report_window(session, request))
        ahead = outcome.ahead
        prefetch = stage.PatchPrefetch(session, outcome.commits, ahead)
        asked = ahead.diffs.asked()
        assert set(prefetch.shas) <= asked and not prefetch.reading
        classes = {c.sha: ahead.classes[c.sha] for c in outcome.commits}
        local = stage.local_evidence(session, outcome.commits, classes, prefetch, ahead)
        by_sha = {c.sha: c for c in outcome.commits}
        ahead_shas = [sha for sha in prefetch.shas if sha in asked]
        direct = evidence_from_diffs(session.repo, [(by_sha[s], classes[s]) for s in ahead_shas],
                                     real(session.repo, ahead_shas))
    assert prefetch.shas and read_after == []
    assert {sha: local[sha] for sha in ahead_shas} == direct  # made from their diffs, as judging makes them


@pytest.mark.parametrize("flush,limit", [(1, 2), (37, 25)])
def test_the_diffs_chosen_during_the_walk_are_the_window_s_best(tmp_path, flush, limit, monkeypatch):
    _synthetic(tmp_path / "synth", 300)  # many commits of equal worth: ties go to the earlier in the window
    monkeypatch.setattr(session_module, "_FACTS_FLUSH", flush)
    monkeypatch.setattr(stage, "PATCH_LIMIT", limit)
    chosen = {}
    real = stage._patch_shas

    def spy(missing):
        chosen["shas"] = real(missing)
        return chosen["shas"]

    monkeypatch.setattr(stage, "_patch_shas", spy)
    with Session.open(str(tmp_path / "synth")) as session:
        request = ReportRequest(since="2000-01-01", until="2026-12-01")
        outcome = report_case.walk(session, request, report_case.report_window(session, request))
        ahead = outcome.ahead
        assert ahead is not None and ahead.final  # commits settled (and cached) before the walk ended
        expected = real(outcome.commits)  # the choice over the whole window
        stage.PatchPrefetch(session, outcome.commits, ahead)
        if ahead.diffs is not None:
            ahead.diffs.close()  # no judging follows: the diffs read ahead are not wanted
    assert len(expected) == limit and chosen["shas"] == expected
    assert not ahead.final & set(expected)  # no settled commit is one whose diff is read


def _synthetic(path: Path, commits: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_walk", ROOT / "bench" / "walk.py")
    walk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(walk)
    walk.build_repo(path, commits)


def test_a_generated_history_judged_during_the_walk_reads_the_same(tmp_path, monkeypatch):
    repo = tmp_path / "synth"
    _synthetic(repo, 400)
    outputs = []
    for ahead in (False, True):
        shutil.rmtree(Path(os.environ["NARRATOR_CACHE_DIR"]), ignore_errors=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(session_module, "_FACTS_FLUSH", 37)
            patch.setattr(stage, "PATCH_LIMIT", 25)
            if not ahead:
                patch.setattr(report_case, "JudgedAhead", lambda *args, **kwargs: None)
            with Session.open(str(repo)) as session:
                report = build(session, ReportRequest(since="2000-01-01", until="2026-12-01"))
                outputs.append(context_json(report).replace(report.generated_at.isoformat(), ""))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("stage_that_fails", ["walk", "judging"])
def test_a_failed_report_leaves_no_thread_reading_diffs(git_repo, monkeypatch, stage_that_fails):
    """A report that fails after diffs were asked for during the walk (in the walk, or in judging before it takes
    them) stops the thread reading them: a long-lived process (a team report, a test run) keeps none."""
    import threading

    import narrator.app.diff_evidence as diff_evidence
    from narrator.errors import RepositoryError

    _history(git_repo)
    shutil.rmtree(Path(os.environ["NARRATOR_CACHE_DIR"]), ignore_errors=True)
    monkeypatch.setattr(stage, "DIFFS_AHEAD_FROM", 0.0)

    def broken(*args, **kwargs):
        raise RepositoryError("simulated")

    monkeypatch.setattr(report_case, "_with_merge_files" if stage_that_fails == "walk" else "tags_on", broken)
    before = set(threading.enumerate())
    started = []
    real_ask = diff_evidence.DiffsAhead.ask

    def ask(self, commits):
        real_ask(self, commits)
        started.append(self._thread)

    monkeypatch.setattr(diff_evidence.DiffsAhead, "ask", ask)
    with Session.open(str(git_repo.path), {"timezone": "UTC"}) as session:
        with pytest.raises(RepositoryError, match="simulated"):
            build(session, ReportRequest(since="2026-01-01", until="2026-03-01"))
    threads = {t for t in started if t is not None} - before
    assert threads  # diffs were asked for during the walk
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.mark.parametrize("warm", [False, True])
def test_judging_keeps_no_commit_s_evidence_or_judgment_in_memory(tmp_path, monkeypatch, warm):
    """The judging stage reads each commit's evidence once, in order, and hands its judgments over on disk
    (``Judged``, read back in order beside the sentences): after it, no ``CommitEvidence`` and no ``Judgment``
    of the window's 400 commits is alive (the old stage returned every judgment in a dict and held every
    evidence until it returned), and the judgments read back are one per commit, in order."""
    import gc

    from narrator.evidence.commit import CommitEvidence
    from narrator.report.model import Judgment

    _synthetic(tmp_path / "synth", 400)
    monkeypatch.setattr(stage, "PATCH_LIMIT", 25)

    def alive(kind: type) -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is kind)

    with Session.open(str(tmp_path / "synth")) as session:
        request = ReportRequest(since="2000-01-01", until="2026-12-01")
        if warm:
            build(session, request)
        outcome = report_case.walk(session, request, report_case.report_window(session, request))
        ahead = outcome.ahead
        classes = session.classify(outcome.commits)
        if ahead is not None:
            classes.update({c.sha: ahead.classes[c.sha] for c in outcome.commits
                            if c.sha in ahead.classes and ahead.as_walked(c)})
        before = alive(Judgment), alive(CommitEvidence)
        judged = stage.judge(session, outcome.commits, classes, (), stage.PatchPrefetch(session, outcome.commits,
                                                                                         ahead), ahead)
        assert alive(Judgment) - before[0] <= 5 and alive(CommitEvidence) - before[1] <= 5
        judgments = list(judged)
        judged.close()
        again = stage.judge(session, outcome.commits, classes)  # nothing judged ahead: all from the cache
        assert list(again) == judgments
        again.close()
    assert len(judgments) == len(outcome.commits) == 400


def test_damaged_evidence_records_are_made_again_with_a_bounded_number_of_diffs(tmp_path, monkeypatch):
    """Every evidence record of a warm cache damaged: each is made again as if it had never been cached, the
    diffs read for them at most ``PATCH_LIMIT`` in all (not one git process a commit), and the report is made."""
    import sqlite3

    _synthetic(tmp_path / "synth", 300)
    monkeypatch.setattr(stage, "PATCH_LIMIT", 7)
    request = ReportRequest(since="2000-01-01", until="2026-12-01")
    with Session.open(str(tmp_path / "synth")) as session:
        first = context_json(build(session, request))
    db_path = next(Path(os.environ["NARRATOR_CACHE_DIR"]).rglob("*.sqlite*"))
    db = sqlite3.connect(db_path)
    assert db.execute("UPDATE records SET data = json_set(data, '$.source_churn', 'x')").rowcount >= 300
    db.commit()
    db.close()
    read: list[int] = []
    real = stage.read_patches
    monkeypatch.setattr(stage, "read_patches", lambda repo, shas: read.append(len(shas)) or real(repo, shas))
    with Session.open(str(tmp_path / "synth")) as session:
        again = context_json(build(session, request))
    assert 0 < sum(read) <= 7 and len(read) <= 300 // stage._READ_CHUNK + 2
    import json

    assert json.loads(again)["numbers"] == json.loads(first)["numbers"]
