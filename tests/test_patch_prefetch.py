"""The diffs judging reads are asked of git right after the walk (PatchPrefetch): same evidence as reading them
at judging time, a changed list falls back to reading, and a git failure reaches the caller."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import narrator.app.evidence as stage
from narrator.app.evidence import PatchPrefetch, local_evidence
from narrator.app.report import ReportRequest, report_window, walk
from narrator.app.session import Session
from narrator.errors import NarratorError


def _history(repo):
    repo.commit("Add the parser", {"src/app/parser.py": "def parse(text):\n    return text.split()\n"})
    repo.commit("Remove the --legacy option", {"src/app/cli.py": "import click\n\n@click.option('--fast')\n"
                                                                 "def main(fast):\n    pass\n"})
    repo.commit("docs: explain the parser", {"docs/parser.md": "# Parser\n\nSplits text.\n"})
    repo.commit("Fix empty input", {"src/app/parser.py": "def parse(text):\n    return (text or '').split()\n",
                                    "CHANGES.md": "# Changes\n\n## Unreleased\n\n### Fixed\n\n- Empty input no longer fails.\n"})


def _empty_cache() -> None:
    shutil.rmtree(Path(os.environ["NARRATOR_CACHE_DIR"]), ignore_errors=True)


def _stage(repo, use_prefetch: bool, tamper=None):
    with Session.open(str(repo.path), {"timezone": "UTC"}) as session:
        request = ReportRequest(since="2000-01-01")
        window = report_window(session, request)
        outcome = walk(session, request, window)
        prefetch = PatchPrefetch(session, outcome.commits) if use_prefetch else None
        if tamper is not None:
            tamper(prefetch)
        classes = session.classify(outcome.commits)
        return prefetch, local_evidence(session, outcome.commits, classes, prefetch)


def test_prefetched_diffs_give_the_same_evidence_as_reading_them_when_judging(git_repo):
    _history(git_repo)
    prefetch, with_prefetch = _stage(git_repo, True)
    assert prefetch is not None and len(prefetch.shas) == 3  # the docs commit has no shipped source
    _empty_cache()
    _, without = _stage(git_repo, False)
    assert with_prefetch == without
    assert any(e.text == "Empty input no longer fails." for ev in with_prefetch.values() for e in ev.entries)


def test_a_list_that_changed_is_read_again_and_a_git_failure_reaches_the_caller(git_repo, monkeypatch):
    _history(git_repo)

    def other_list(prefetch):
        prefetch.texts()
        prefetch._texts.clear()  # so the entry below can only come from judging's own read
        # as if a cache record had been damaged since: judging misses other commits and wants other diffs
        prefetch.missing, prefetch.shas = prefetch.missing[:1], prefetch.shas[:1]

    _, evidence = _stage(git_repo, True, other_list)
    assert any(e.text == "Empty input no longer fails." for ev in evidence.values() for e in ev.entries)

    def broken(repo, shas):
        raise NarratorError("git log failed: object not found")
        yield  # pragma: no cover

    monkeypatch.setattr(stage, "read_patches", broken)
    _empty_cache()
    with pytest.raises(NarratorError, match="object not found"):
        _stage(git_repo, True)


def test_diffs_leave_out_lockfiles_minified_and_vendored_files_and_keep_the_rest(git_repo):
    from narrator.git.patches import read_patches
    from narrator.git.walker import Repository

    sha = git_repo.commit("Update the parser and its dependencies", {
        "package-lock.json": '{"lockfileVersion": 3}\n' * 50, "web/app.min.js": "var a=1;\n",
        "vendor/lib/x.py": "X = 1\n", "src/vendor_notes.py": "NOTE = 1\n", "docs/logo.svg": "<svg/>\n",
        "src/app/parser.py": "def parse(text):\n    return text.split()\n", "a dir/with space.lock": "x\n",
        "src/app/sub/go.sum": "h1\n", "src/dist/out.js": "built()\n"})
    [(read_sha, text)] = list(read_patches(Repository.open(git_repo.path), [sha]))
    assert read_sha == sha
    assert "src/app/parser.py" in text and "src/vendor_notes.py" in text  # "vendor_notes" is no vendor folder
    for noise in ("package-lock.json", "app.min.js", "vendor/lib/x.py", "logo.svg", "with space.lock", "go.sum",
                  "dist/out.js"):
        assert noise not in text, noise
