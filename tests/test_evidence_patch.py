"""narrator.evidence.patch: unified diffs (as git prints them) -> FilePatch records with numbered lines."""

from __future__ import annotations

import subprocess
from pathlib import Path

from narrator.evidence.patch import parse_patch, split_log


def git_diff(tmp_path: Path, before: dict[str, str | bytes], after: dict[str, str | bytes | None],
             *args: str) -> str:
    """The real ``git diff`` of a change from ``before`` to ``after`` (None deletes a file)."""
    repo = tmp_path / "r"
    repo.mkdir(exist_ok=True)

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True).stdout.decode()

    git("init", "-q")
    for rel, content in before.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "before")
    for rel, content in after.items():
        target = repo / rel
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git("add", "-A")
    return git("-c", "core.quotepath=on", "diff", "--cached", "-M", *args)


def test_modified_file_numbers_and_section(tmp_path):
    before = "".join(f"    line {i}\n" for i in range(1, 21))
    before = "def redirect(\n    location, code=302\n):\n    pass\n" + before
    after = before.replace("code=302", "code=303").replace("    line 12\n", "    line 12\nnew line\n")
    (f,) = parse_patch(git_diff(tmp_path, {"app.py": before}, {"app.py": after}))
    assert (f.path, f.old_path, f.status, f.is_binary) == ("app.py", None, "modified", False)
    assert f.lines_added == 2 and f.lines_removed == 1
    assert [(line.number, line.text) for line in f.removed_lines] == [(2, "    location, code=302")]
    assert [(line.number, line.text) for line in f.added_lines] == [(2, "    location, code=303"),
                                                                    (17, "new line")]
    assert f.hunks[1].section.startswith("def redirect(")  # git's function context


def test_unified_zero_context(tmp_path):
    before = "a\nb\nc\nd\n"
    (f,) = parse_patch(git_diff(tmp_path, {"x.txt": before}, {"x.txt": "a\nB\nc\nd\ne\n"}, "-U0"))
    assert [(h.old_start, h.old_count, h.new_start, h.new_count) for h in f.hunks] == [(2, 1, 2, 1), (4, 0, 5, 1)]
    assert [line.number for line in f.added_lines] == [2, 5]
    assert [line.number for line in f.removed_lines] == [2]


def test_added_deleted_renamed_binary(tmp_path):
    body = "".join(f"shared line {i}\n" for i in range(30))
    text = git_diff(tmp_path, {"old/name.py": body, "gone.txt": "bye\n", "logo.png": b"\x89PNG\x00\x01"},
                    {"old/name.py": None, "new/name.py": body + "one more\n", "gone.txt": None,
                     "fresh.md": "# hi\n", "logo.png": b"\x89PNG\x00\x02\x03"})
    files = {f.path: f for f in parse_patch(text)}
    assert files["new/name.py"].status == "renamed" and files["new/name.py"].old_path == "old/name.py"
    assert files["new/name.py"].lines_added == 1
    assert files["gone.txt"].status == "deleted" and files["gone.txt"].removed_lines[0].text == "bye"
    assert files["fresh.md"].status == "added" and files["fresh.md"].added_lines[0] == (1, "# hi")
    assert files["logo.png"].is_binary and files["logo.png"].hunks == ()


def test_quoted_and_spaced_paths(tmp_path):
    text = git_diff(tmp_path, {"dir with space/naïve file.txt": "a\n"}, {"dir with space/naïve file.txt": "b\n"})
    assert '"' in text  # core.quotepath=on quotes the non-ASCII name
    (f,) = parse_patch(text)
    assert f.path == "dir with space/naïve file.txt"


def test_body_lines_that_look_like_headers(tmp_path):
    before = "x\n"
    after = "x\n++ b/evil\n-- a/evil\ndiff --git a/q b/q\n"
    (f,) = parse_patch(git_diff(tmp_path, {"doc.txt": before}, {"doc.txt": after}))
    assert [line.text for line in f.added_lines] == ["++ b/evil", "-- a/evil", "diff --git a/q b/q"]


def test_no_newline_at_end(tmp_path):
    (f,) = parse_patch(git_diff(tmp_path, {"n.txt": "a\nb"}, {"n.txt": "a\nc"}))
    assert [line.text for line in f.removed_lines] == ["b"]
    assert [line.text for line in f.added_lines] == ["c"]


def test_keep_predicate_counts_without_lines(tmp_path):
    text = git_diff(tmp_path, {"uv.lock": "a\n", "src/x.py": "a\n"}, {"uv.lock": "b\nc\n", "src/x.py": "b\n"})
    files = {f.path: f for f in parse_patch(text, keep=lambda p: not p.endswith(".lock"))}
    assert files["uv.lock"].parsed is False and files["uv.lock"].hunks == ()
    assert (files["uv.lock"].lines_added, files["uv.lock"].lines_removed) == (2, 1)
    assert files["src/x.py"].parsed and files["src/x.py"].lines_added == 1


def test_split_log_ignores_commit_headers(tmp_path):
    repo = tmp_path / "log"
    repo.mkdir()

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *a], check=True,
                              capture_output=True).stdout.decode()

    git("init", "-q")
    (repo / "a.txt").write_text("one\n")
    git("add", "-A")
    git("commit", "-q", "-m", "first\n\ndiff --git a/fake b/fake\n+++ b/fake")
    (repo / "a.txt").write_text("one\ntwo\n")
    git("add", "-A")
    git("commit", "-q", "-m", "second subject\n\nbody text")
    entries = list(split_log(git("log", "-p")))
    assert [e.subject for e in entries] == ["second subject", "first"]
    assert entries[0].body == "body text"
    assert [f.path for f in entries[1].files] == ["a.txt"]  # the fake header in the message is not a file
    assert entries[0].files[0].added_lines[0] == (2, "two")


def test_combined_merge_diff():
    text = (
        "diff --cc f.txt\n"
        "index 1,2..3\n"
        "--- a/f.txt\n"
        "+++ b/f.txt\n"
        "@@@ -1,2 -1,2 +1,3 @@@\n"
        "  keep\n"
        "+ from ours\n"
        " +from theirs\n"
        "- dropped\n"
    )
    (f,) = parse_patch(text)
    assert f.combined and f.path == "f.txt"
    assert [line.text for line in f.added_lines] == ["from ours", "from theirs"]
    assert [line.text for line in f.removed_lines] == ["dropped"]


def test_empty_and_garbage():
    assert parse_patch("") == ()
    assert parse_patch("not a diff\n+++ b/x\n") == ()
    (f,) = parse_patch("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\nGARBAGE\n")
    assert f.added_lines[0].text == "b"
