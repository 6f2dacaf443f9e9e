"""The git walker on real throw-away repositories: facts, odd inputs, read-only behaviour."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from narrator.errors import RepositoryError, RevisionError
from narrator.git.facts import ChangeType, CommitFacts
from narrator.git.walker import GitDiffs, Repository, WalkSpec, list_commits, read_facts
from narrator.cache import Cache

from conftest import BASE_DATE


def walk_all(path, **spec) -> list[CommitFacts]:
    repo = Repository.open(path)
    shas = [s for s, _ in list_commits(repo, WalkSpec(**spec))]
    by_sha = {f.sha: f for f in read_facts(repo, shas)}
    return [by_sha[s] for s in shas]


def test_facts_of_ordinary_commits(git_repo):
    git_repo.commit("Add parser", {"src/app/parser.py": "def parse():\n    return 1\n", "README.md": "hi\n"})
    git_repo.commit("fix(parser): handle empty input\n\nLonger body.\n\nCo-authored-by: Grace Hopper <GRACE@example.com>",
                    {"src/app/parser.py": "def parse(x=None):\n    return 2\n"})
    newest, oldest = walk_all(git_repo.path)
    assert oldest.subject == "Add parser" and oldest.parents == ()
    assert {f.path: f.change_type for f in oldest.files} == {"src/app/parser.py": ChangeType.ADDED,
                                                            "README.md": ChangeType.ADDED}
    assert newest.subject == "fix(parser): handle empty input"
    assert newest.body.startswith("Longer body.")
    assert newest.co_authors[0].name == "Grace Hopper" and newest.co_authors[0].email == "grace@example.com"
    assert newest.files[0].added == 2 and newest.files[0].deleted == 2
    assert newest.files[0].language == "Python"
    assert newest.committed_at.tzinfo is not None
    assert newest.author.email == "ada@example.com"


def test_rename_binary_and_delete(git_repo):
    git_repo.commit("Add files", {"a.txt": "one\ntwo\n", "logo.png": b"\x89PNG\x00\x01\x02", "old.txt": "x\n"})
    git_repo.git("mv", "a.txt", "b.txt")
    git_repo.commit("Move a to b", {"old.txt": None})
    newest = walk_all(git_repo.path)[0]
    by_path = {f.path: f for f in newest.files}
    assert by_path["b.txt"].change_type == ChangeType.RENAMED and by_path["b.txt"].old_path == "a.txt"
    assert by_path["old.txt"].change_type == ChangeType.DELETED
    first = walk_all(git_repo.path)[1]
    png = next(f for f in first.files if f.path == "logo.png")
    assert png.binary and png.added == 0


def test_merge_commit_is_diffed_against_first_parent(git_repo):
    git_repo.commit("Start", {"a.txt": "a\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("Feature work", {"feature.py": "x = 1\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("Main work", {"main.py": "y = 1\n"})
    git_repo.merge("feature", "Merge pull request #7 from someone/feature")
    merge = walk_all(git_repo.path)[0]
    assert merge.is_merge and len(merge.parents) == 2
    assert [f.path for f in merge.files] == ["feature.py"]


def test_revert_detected(git_repo):
    sha = git_repo.commit("Add thing", {"a.py": "a = 1\n"})
    git_repo.git("revert", "--no-edit", sha, env={"GIT_COMMITTER_DATE": (BASE_DATE + timedelta(hours=5)).isoformat(),
                                                   "GIT_AUTHOR_DATE": (BASE_DATE + timedelta(hours=5)).isoformat()})
    newest = walk_all(git_repo.path)[0]
    assert newest.is_revert and newest.reverted_sha == sha


def test_a_revert_names_what_it_undoes(git_repo):
    # echo: "Revert back to v4 behavior for group registering implicit 404 handlers" changes behaviour
    subjects = {"Revert back to v4 behavior for group registering implicit 404 handlers": False,
                "Revert to the old parser": False, 'Revert "Add thing"': True, "revert: drop the cache": True,
                "revert PR #3009 changes to just disabling path escaping": True, "Revert 1a2b3c4d": True,
                "Revert the last commit": True,
                # flask, 12 February 2026: "revert cli test change" undid a test change of the same day
                "revert cli test change": True, "Revert accidental commit": True, "Revert dependency bump (#12)": True,
                "Revert lodash dev dep bump.": True,
                "Revert button added to the editor toolbar": False, "Revert changes the default encoding": False}
    for n, subject in enumerate(subjects):
        git_repo.commit(subject, {"a.py": f"a = {n}\n"})
    found = {c.subject: c.is_revert for c in walk_all(git_repo.path)}
    assert found == subjects


def test_window_filters_by_commit_date_and_skips_out_of_order_commits(git_repo):
    # An old commit in the middle must not stop the walk (like --since-as-filter).
    git_repo.commit("one", {"a": "1"}, when=datetime(2026, 11, 1, tzinfo=timezone.utc))
    git_repo.commit("old in the middle", {"a": "2"}, when=datetime(2020, 1, 1, tzinfo=timezone.utc))
    git_repo.commit("three", {"a": "3"}, when=datetime(2026, 11, 3, tzinfo=timezone.utc))
    since = datetime(2026, 10, 31, tzinfo=timezone.utc)
    got = [c.subject for c in walk_all(git_repo.path, since=since)]
    assert got == ["three", "one"]
    until = datetime(2026, 11, 1, tzinfo=timezone.utc)  # inclusive
    assert [c.subject for c in walk_all(git_repo.path, since=since, until=until)] == ["one"]


def test_mailmap_resolves_authors(git_repo):
    git_repo.commit("one", {"a": "1"}, author=("ada", "ada@old.example"))
    git_repo.commit("two", {".mailmap": "Ada Lovelace <ada@example.com> <ada@old.example>\n"})
    assert {c.author.email for c in walk_all(git_repo.path)} == {"ada@example.com"}


def test_non_utf8_message_and_file_name(git_repo):
    name = b"caf\xe9.txt"  # Latin-1 file name
    (git_repo.path / name.decode("latin-1")).write_bytes(b"x")
    subprocess.run(["git", "-C", str(git_repo.path), "add", "-A"], check=True)
    git_repo.commit(b"R\xe9sum\xe9 of changes\n", allow_empty=True)
    facts = walk_all(git_repo.path)[0]
    assert "sum" in facts.subject
    assert len(facts.files) == 1 and facts.files[0].path.endswith(".txt")


def test_control_characters_are_removed(git_repo):
    git_repo.commit("Evil \x1b[31mred\x1b[0m \x07bell \u202eoverride", {"a": "1"})
    subject = walk_all(git_repo.path)[0].subject
    assert "\x1b" not in subject and "\x07" not in subject and "\u202e" not in subject
    assert "red" in subject and "bell" in subject


def test_ten_thousand_files_in_one_commit(git_repo):
    for i in range(10_000):
        git_repo.write(f"data/d{i % 50}/f{i}.txt", f"{i}\n")
    git_repo.git("add", "-A")
    git_repo.commit("Add a lot of data files", allow_empty=True)
    facts = walk_all(git_repo.path)[0]
    assert len(facts.files) == 10_000
    assert facts.lines_added == 10_000


def test_five_megabyte_diff(git_repo):
    big = "".join(f"line {i} with some padding text to make it long enough\n" for i in range(90_000))
    assert len(big) > 5_000_000
    git_repo.commit("Add big generated file", {"big.txt": big})
    facts = walk_all(git_repo.path)[0]
    assert facts.files[0].added == 90_000
    diffs = GitDiffs(Repository.open(git_repo.path), max_bytes=100_000).file_diffs(facts)
    assert diffs[0].path == "big.txt"  # still named even though cut


def test_submodule_change(make_repo):
    sub = make_repo("sub")
    sub.commit("sub init", {"s.txt": "s"})
    main = make_repo("main")
    main.commit("init", {"a.txt": "a"})
    main.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendored")
    main.commit("Add submodule", allow_empty=True)
    facts = walk_all(main.path)[0]
    gitlink = next(f for f in facts.files if f.path == "vendored")
    assert gitlink.submodule and not gitlink.binary


def test_detached_head(git_repo):
    first = git_repo.commit("one", {"a": "1"})
    git_repo.commit("two", {"a": "2"})
    git_repo.git("checkout", "-q", "--detach", first)
    assert [c.subject for c in walk_all(git_repo.path)] == ["one"]
    assert Repository.open(git_repo.path).current_branch() is None


def test_bare_repository(make_repo, tmp_path):
    work = make_repo("work")
    work.commit("one", {"a": "1"})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(bare)], check=True)
    repo = Repository.open(bare)
    assert repo.bare and repo.name == "bare"
    assert [c.subject for c in walk_all(bare)] == ["one"]


def test_shallow_clone(make_repo, tmp_path):
    work = make_repo("work")
    for i in range(5):
        work.commit(f"commit {i}", {"a": str(i)})
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{work.path}", str(shallow)], check=True)
    repo = Repository.open(shallow)
    assert repo.shallow
    assert len(walk_all(shallow)) == 2


def test_errors(tmp_path, make_repo):
    with pytest.raises(RepositoryError, match="not a git repository"):
        Repository.open(tmp_path)
    with pytest.raises(RepositoryError, match="does not exist"):
        Repository.open(tmp_path / "missing")
    empty = make_repo("empty")
    with pytest.raises(RepositoryError, match="no commits yet"):
        Repository.open(empty.path).resolve("HEAD")
    work = make_repo("work")
    work.commit("one", {"a": "1"})
    with pytest.raises(RevisionError, match="unknown branch"):
        Repository.open(work.path).resolve("no-such-branch")
    with pytest.raises(RevisionError):
        Repository.open(work.path).resolve("--output=/tmp/x")


def test_facts_round_trip_through_cache(git_repo, tmp_path):
    git_repo.commit("fix: a\n\nCo-authored-by: B <b@x>", {"a.py": "1", "img.png": b"\x00\x01"})
    facts = walk_all(git_repo.path)[0]
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put_facts("r", [facts])
        assert cache.get_facts("r", [facts.sha])[facts.sha] == facts


def test_the_history_index_answers_every_window_like_git(git_repo):
    """One walk of the whole history (``HistoryIndex``) gives the same shas, order, dates and dominant offset as
    ``git log --since-as-filter/--until`` for any window, out-of-order commits and clamped bounds included."""
    from narrator.git.history import dominant_offset
    from narrator.git.walker import HistoryIndex, read_history_index

    stamps = [datetime(2026, 11, 1, 9, tzinfo=timezone(timedelta(hours=2))),
              datetime(2020, 1, 1, tzinfo=timezone.utc),  # an old commit in the middle
              datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
              datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # the same second twice
              datetime(2026, 11, 9, 8, tzinfo=timezone(timedelta(hours=2))),
              datetime(2026, 11, 10, 8, tzinfo=timezone(timedelta(hours=2)))]
    for i, when in enumerate(stamps):
        git_repo.commit(f"change {i}", {"a": str(i)}, when=when)
    git_repo.git("checkout", "-q", "-b", "side", "HEAD~2")
    git_repo.commit("side work", {"b": "1"}, when=datetime(2026, 11, 5, tzinfo=timezone.utc))
    git_repo.git("checkout", "-q", "main")
    git_repo.merge("side", "Merge branch 'side'", when=datetime(2026, 11, 11, tzinfo=timezone.utc))
    repo = Repository.open(git_repo.path)
    index = read_history_index(repo)
    assert HistoryIndex.decode(index.encode()) == index
    utc = timezone.utc
    bounds = [None, datetime(1, 1, 1, tzinfo=utc), datetime(1970, 1, 1, 0, 0, 30, tzinfo=utc),
              datetime(2019, 6, 1, tzinfo=utc), datetime(2026, 11, 1, 7, tzinfo=utc),
              datetime(2026, 11, 4, 4, 30, tzinfo=utc), datetime(2026, 11, 4, 4, 30, 1, tzinfo=utc),
              datetime(2026, 11, 10, 6, 0, 0, 500000, tzinfo=utc), datetime(2100, 1, 1, tzinfo=utc),
              datetime(9999, 12, 31, tzinfo=utc)]
    for since in bounds:
        for until in bounds:
            if since is not None and until is not None and until < since:
                continue
            spec = WalkSpec(since=since, until=until)
            assert list_commits(repo, spec, index=index) == list_commits(repo, spec), (since, until)
            for limit in (1, 3, 5000):
                assert dominant_offset(repo, since, until, limit=limit, index=index) == \
                    dominant_offset(repo, since, until, limit=limit), (since, until, limit)


def test_a_report_keeps_one_history_index_per_repository_and_ignores_a_damaged_one(git_repo):
    import sqlite3

    from conftest import run_narrate

    git_repo.commit("feat: one", {"a.py": "x = 1\n"})
    args = ("report", "--repo", str(git_repo.path), "--since", "2026-11-01", "--until", "2026-11-30", "--format",
            "json")
    first = run_narrate(*args)
    assert first.returncode == 0, first.stderr
    db_path = Cache().path

    def rows():
        with sqlite3.connect(db_path) as db:
            return db.execute("SELECT sha, data FROM records WHERE kind = 'history'").fetchall()

    assert len(rows()) == 1
    git_repo.commit("feat: two", {"b.py": "y = 1\n"})
    assert run_narrate(*args).returncode == 0
    assert len(rows()) == 1  # the index of the new tips replaced the old one
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE records SET data = ? WHERE kind = 'history'", ('{"index": "not an index"}',))
    third = run_narrate(*args)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["numbers"]["commits"] == 2
    assert "not an index" not in rows()[0][1]


def test_git_output_is_drained_ahead_of_a_slow_reader_and_a_reader_that_stops_kills_git(git_repo, monkeypatch):
    import threading
    import time

    import narrator.git.walker as walker

    for i in range(40):
        git_repo.commit(f"Change {i}", {f"src/m{i}.py": "x = 1\n" * 200})
    repo = Repository.open(git_repo.path)
    shas = [s for s, _ in list_commits(repo, WalkSpec())]
    monkeypatch.setattr(walker._Drain, "_AHEAD", 2)  # a tiny queue: the drain thread waits on it
    monkeypatch.setattr(walker, "_read_chunks", lambda pipe, size=1 << 16: iter(lambda: pipe.read(512), b""))
    slow = []
    for facts in read_facts(repo, shas):  # a reader slower than git still gets every commit, in order
        time.sleep(0.005)
        slow.append(facts.sha)
    assert slow == shas
    started = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(walker.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k)) or started[-1])
    reader = read_facts(repo, shas)
    assert next(reader).sha == shas[0]
    reader.close()  # stopped after one commit: git is gone and so is the thread
    assert started and started[0].poll() is not None
    assert not [t for t in threading.enumerate() if t.name == "narrator-git-output"]


def test_a_long_list_of_commits_is_read_by_several_git_processes_one_after_the_other(git_repo, monkeypatch):
    """git keeps every commit it is asked for until it ends: a long window is read ``_SHAS_PER_GIT`` commits a
    process, the same facts in the same order, and a reader that stops early leaves no process behind."""
    import narrator.git.walker as walker

    for i in range(7):
        git_repo.commit(f"Change {i}", {f"src/m{i}.py": "x = 1\n" * (i + 1)})
    repo = Repository.open(git_repo.path)
    shas = [s for s, _ in list_commits(repo, WalkSpec())]
    whole = list(read_facts(repo, shas))
    started = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(walker.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k)) or started[-1])
    monkeypatch.setattr(walker, "_SHAS_PER_GIT", 3)
    assert list(read_facts(repo, shas)) == whole and [f.sha for f in whole] == shas
    assert len(started) == 3  # 3 + 3 + 1 commits
    started.clear()
    reader = read_facts(repo, shas)
    assert [next(reader).sha for _ in range(4)] == shas[:4]  # into the second process
    reader.close()
    assert len(started) == 2 and all(p.poll() is not None for p in started)


def test_every_streamed_git_command_fails_with_one_line_naming_it_and_stops_git_when_left(git_repo, monkeypatch):
    """The one runner of streamed git commands (facts, the history index, diffs, file contents): a failure is
    one line naming the git command and the repository (not ``-c``, the first of its options), and a reader
    that stops early leaves no git process running."""
    import narrator.git.walker as walker
    from narrator.git.patches import read_blobs, read_patches

    for i in range(30):
        git_repo.commit(f"Change {i}", {f"src/m{i}.py": "x = 1\n" * 300})
    repo = Repository.open(git_repo.path)
    with pytest.raises(RepositoryError, match=rf"^git log failed in {repo.root}: fatal: bad object 0{{40}}$"):
        list(read_patches(repo, ["0" * 40]))
    with pytest.raises(RepositoryError, match=r"^git log failed in .*: fatal: bad object"):
        list(read_facts(repo, ["0" * 40]))
    with pytest.raises(RepositoryError, match=r"^git cat-file failed in .*"):
        monkeypatch.setattr(walker, "_GIT_ENV", {**walker._GIT_ENV, "GIT_DIR": str(git_repo.path / "nowhere")})
        read_blobs(repo, [("HEAD", "src/m1.py")])
    monkeypatch.undo()
    started = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(walker.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k)) or started[-1])
    shas = [s for s, _ in list_commits(repo, WalkSpec())]
    reader = read_patches(repo, shas)
    assert next(reader)[0] == shas[0]
    reader.close()
    assert started and started[0].poll() is not None


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX process priorities")
def test_git_work_that_may_be_unneeded_runs_at_a_lower_priority(git_repo, monkeypatch):
    """Diffs read during the walk (``background``) are git processes the walk's own git comes before."""
    import narrator.git.walker as walker

    for i in range(5):
        git_repo.commit(f"Change {i}", {f"src/m{i}.py": "x = 1\n"})
    started = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(walker.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k)) or started[-1])
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for background, expected in ((True, min(mine + 10, 19)), (False, mine)):
        output = walker.git_output(git_repo.path, ["log", "--format=%H"], background=background)
        next(output)  # git has started and is still held (its output not read to the end)
        assert os.getpriority(os.PRIO_PROCESS, started[-1].pid) == expected
        output.close()


def test_without_git_every_git_reader_says_so_in_one_line(git_repo, monkeypatch):
    """git missing from PATH: the streamed readers (facts, diffs, file contents, the history) and the whole-output
    runner each fail with the same one line, never a FileNotFoundError traceback."""
    from narrator.git.patches import read_blobs, read_patches
    from narrator.git.walker import read_history_index, run_git

    sha = git_repo.commit("one", {"a.py": "x = 1\n"})
    repo = Repository.open(git_repo.path)
    monkeypatch.setenv("PATH", str(git_repo.path / "no-such-bin"))
    readers = [lambda: list(read_facts(repo, [sha])), lambda: list(read_patches(repo, [sha])),
               lambda: read_blobs(repo, [(sha, "a.py")]), lambda: run_git(repo.root, ["status"]),
               lambda: read_history_index(repo, ("HEAD",), False)]
    for read in readers:
        with pytest.raises(RepositoryError, match="^git is not installed or not on PATH; install git and try again$"):
            read()


def test_a_failed_whole_output_git_command_names_its_verb_not_an_option(git_repo):
    """``run_git`` with git's config options first (``-c core.quotepath=off log ...``) names ``log``, as the
    streamed commands do: the one failure line of ``_git_failed``."""
    from narrator.git.walker import _LOG_CONFIG, run_git

    git_repo.commit("one", {"a.py": "x = 1\n"})
    with pytest.raises(RepositoryError, match=r"^git log failed in .*: fatal: bad revision 'no-such-rev'$"):
        run_git(git_repo.path, [*_LOG_CONFIG, "log", "no-such-rev", "--"])
