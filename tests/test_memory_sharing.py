"""What a long report holds per commit: values repeated across commits are one object, and a file change is small.

These check that the sharing changes nothing a reader can see (equal values, same attributes, same output) and
that the per-commit cost of facts read back from the cache stays down.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from narrator.evidence.commit import CommitEvidence, gather
from narrator.git.classify import Classifier, is_source_path
from narrator.git.facts import ChangeType, CommitFacts, FileChange, Person
from narrator.report.model import Judgment

_TZ = timezone(timedelta(hours=2))


def _facts(k: int, files: int = 3, authored: datetime | None = None) -> CommitFacts:
    when = datetime(2026, 1, 1, 12, 0, tzinfo=_TZ) + timedelta(minutes=k)
    return CommitFacts(
        sha=f"{k:040x}", parents=(f"{k + 1:040x}",), author=Person("Ada", "ada@example.com"),
        committer=Person("Ada", "ada@example.com"), authored_at=authored or when, committed_at=when,
        subject=f"Fix thing {k}", body="",
        files=tuple(FileChange(f"src/m{j}.py", ChangeType.MODIFIED, None, "Python", j, 1) for j in range(files)))


def test_a_file_change_keeps_every_attribute_in_fewer_slots() -> None:
    change = FileChange("new.py", ChangeType.RENAMED, "old.py", "Python", 3, 4, True, False)
    assert (change.path, change.change_type, change.old_path, change.language, change.added, change.deleted,
            change.binary, change.submodule, change.churn) == ("new.py", ChangeType.RENAMED, "old.py", "Python",
                                                               3, 4, True, False, 7)
    assert FileChange("s", submodule=True).submodule and not FileChange("s").submodule
    assert FileChange("a").change_type is ChangeType.MODIFIED
    same = FileChange(path="new.py", change_type="renamed", old_path="old.py", language="Python", added=3,
                      deleted=4, binary=True)
    assert same == change and hash(same) == hash(change) and same.change_type is ChangeType.RENAMED
    assert change != FileChange("new.py", ChangeType.COPIED, "old.py", "Python", 3, 4, True, False)
    assert change != FileChange("new.py", ChangeType.RENAMED, "old.py", "Python", 3, 4, False, False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.path = "other.py"  # type: ignore[misc]
    assert sys.getsizeof(change) <= 80  # six slots with the GC header: 80 bytes a file, not 96
    for every in ChangeType:
        for binary in (False, True):
            for submodule in (False, True):
                made = FileChange("p", every, None, None, 1, 2, binary, submodule)
                assert (made.change_type, made.binary, made.submodule) == (every, binary, submodule)


def test_facts_read_back_equal_the_facts_written() -> None:
    commit = dataclasses.replace(_facts(1), files=(
        FileChange("a.bin", ChangeType.ADDED, None, None, 0, 0, True, False),
        FileChange("b.py", ChangeType.RENAMED, "c.py", "Python", 5, 2),
        FileChange("mod", ChangeType.MODIFIED, None, None, 0, 0, False, True)))
    back = CommitFacts.from_dict(commit.to_dict())
    assert back == commit and back.to_dict() == commit.to_dict()


def test_authored_and_committed_share_one_time_only_when_they_print_the_same() -> None:
    commit = _facts(1, authored=datetime(2026, 1, 1, 12, 1, tzinfo=_TZ))
    assert commit.authored_at is commit.committed_at
    back = CommitFacts.from_dict(commit.to_dict())
    assert back.authored_at is back.committed_at and back == commit
    elsewhere = commit.committed_at.astimezone(timezone.utc)  # the same instant in another zone: printed apart
    apart = _facts(1, authored=elsewhere)
    assert apart.authored_at == apart.committed_at and apart.authored_at is not apart.committed_at
    assert apart.authored_at.isoformat() == elsewhere.isoformat()
    assert CommitFacts.from_dict(apart.to_dict()).to_dict() == apart.to_dict()


def test_evidence_of_many_commits_shares_its_kind_counts() -> None:
    one = gather("a" * 40, "Fix a", files=[FileChange("src/a.py", language="Python"), FileChange("tests/t.py")])
    two = gather("b" * 40, "Fix b", files=[FileChange("src/b.py", language="Python"), FileChange("tests/u.py")])
    assert one.kinds == two.kinds and one.kinds is two.kinds
    assert dataclasses.replace(one, category="Fixes").kinds is one.kinds
    odd = CommitEvidence("c" * 40, "s", kinds=[["source", 1]])  # type: ignore[arg-type]  # unhashable: kept
    assert odd.kinds == [["source", 1]]


def test_judgments_share_reasons_and_scores_but_not_zeros_of_two_signs() -> None:
    def judged(score: float, reasons: tuple[str, ...]) -> Judgment:
        return Judgment(score=score, tier="fix", reasons=reasons, description="d", description_source="subject")

    first, second = judged(12.5, ("classified as Fixes", "touches src")), judged(12.5, ("classified as Fixes",
                                                                                        "touches src"))
    assert first.reasons is second.reasons and first.score is second.score
    assert str(judged(-0.0, ()).score) == "-0.0" and str(judged(0.0, ()).score) == "0.0"
    judged(1.0, ())
    assert type(judged(1, ()).score) is int  # 1 == 1.0, but prints apart


def test_commits_with_the_same_areas_share_one_tuple() -> None:
    classifier = Classifier()
    first, second = classifier.classify(_facts(1)), classifier.classify(_facts(2))
    assert first.areas == second.areas and first.areas is second.areas


def test_source_paths_are_decided_by_language_then_path() -> None:
    assert is_source_path("src/a.py", "Python")
    assert not is_source_path("src/a.py", None) and not is_source_path("README.md", "Markdown")
    assert not is_source_path("tests/test_a.py", "Python") and not is_source_path(".github/x.py", "Python")


def test_facts_from_the_cache_cost_few_hundred_bytes_a_commit() -> None:
    rows = [_facts(k).to_dict() for k in range(3000)]
    for row in rows:  # the sha as a warm report has it: interned by the history index already
        row["sha"] = sys.intern(row["sha"])
        row["parents"] = [sys.intern(p) for p in row["parents"]]
    CommitFacts.from_dict(rows[0])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [CommitFacts.from_dict(row) for row in rows]
        per_commit = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    # the facts (160 bytes), three file changes (80 each), their tuple, one time for both, the parents' tuple
    # and the list: about 590 bytes; with eight-slot file changes and two times it was about 690
    assert per_commit < 640, f"{per_commit:.0f} bytes a commit"


def test_per_path_memos_stay_bounded_and_paths_stay_shared() -> None:
    """A long history touches ever more paths (98,000 in 200,000 generated commits): every memo keyed by a path
    keeps at most ``PATH_MEMO`` of them, and a path read again after its memo entry is gone is still one string."""
    from narrator.evidence import changelog, paths
    from narrator.evidence.sharing import PATH_MEMO
    from narrator.git import classify, walker

    for memo in (walker.language_of, walker._clean_path, paths.path_kind, paths.wants_hunks, paths.language_of,
                 changelog.changelog_file_kind, classify.is_test_path, classify._is_code_path):
        assert memo.cache_info().maxsize == PATH_MEMO, memo
    classifier = Classifier()
    index, key = next(iter(classifier._glob_res))  # a rule with path globs
    many = [f"src/pkg{k % 7}/module_{k}.py" for k in range(PATH_MEMO + 50)]
    for path in many:
        classifier.area_of(path)
        classifier._path_in(path, index, classifier.rules[index], key)
    assert classifier._path_cache[(index, key)]
    assert len(classifier._area_cache) <= PATH_MEMO
    assert all(len(answers) <= PATH_MEMO for answers in classifier._path_cache.values())
    assert classifier.area_of(many[0]) == classifier.area_of(f"src/pkg0/{many[0].rsplit('/', 1)[1]}")
    walker._clean_path.cache_clear()
    first = walker._clean_path("".join(["docs/", "guide.md"]))
    for k in range(PATH_MEMO + 10):  # pushes the first path out of the memo
        walker._clean_path(f"docs/page_{k}.md")
    again = walker._clean_path("".join(["docs/", "guide.md"]))
    assert again == first and again is first  # interned: the facts of both commits share one string


def test_what_matching_and_themes_keep_per_commit_is_small_and_shared() -> None:
    """A window keeps each commit's matching key and theme words until judging: numbers as tuples, no new empty
    set per commit, one frozenset per Conventional Commits prefix (numpy: 17 MiB of frozensets before)."""
    from narrator.evidence.match import match_key
    from narrator.evidence.themes import theme_input

    plain = [_facts(k) for k in range(3)]
    keys = [match_key(c) for c in plain]
    assert all(own == () and cited == () for own, cited, _ in keys)
    cited = dataclasses.replace(plain[0], subject="Fix the parser (#5898)", body="Fixes #12 and #7")
    assert match_key(cited)[:2] == ((5898,), (7, 12))
    empty_title = dataclasses.replace(plain[0], subject="Update", body="")
    assert match_key(empty_title)[2] is match_key(dataclasses.replace(plain[1], subject="Fix", body=""))[2]
    prefixed = [gather(c.sha, f"parser: fix case {k}", "", c.files, category="Fixes") for k, c in enumerate(plain)]
    prefixes = [theme_input(e)[1] for e in prefixed]
    assert prefixes[0] and prefixes[0] is prefixes[1] is prefixes[2]


def test_plain_text_cleaned_is_the_text_itself() -> None:
    """A judgment's description of a plain subject shares the subject's string (numpy: 28,000 copies before)."""
    from narrator.evidence.clean import clean_markup

    text = "".join(["Fix the ", "parser"])
    assert clean_markup(text) is text
    assert clean_markup("Fix  the\tparser") == "Fix the parser"
