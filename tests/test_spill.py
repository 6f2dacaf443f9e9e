"""A long window's commit entries kept on disk (``narrator.report.spill``): the views behave like lists, the
temporary file leaves nothing behind, a built report keeps no per-commit objects, and every output is the
same as with the entries held in memory."""

from __future__ import annotations

import gc
import importlib.util
import os
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from narrator.report import aggregate, model
from narrator.report.model import CommitEntry, EntryRef, SignalRef, _entry_from_json
from narrator.report.spill import Entries, EntryStore

ROOT = Path(__file__).resolve().parents[1]


def _entries(n: int) -> list[CommitEntry]:
    out = []
    for k in range(n):
        out.append(CommitEntry(
            sha=f"{k:040x}", short_sha=f"{k:010x}", date="2026-11-02T10:00+00:00", day="2026-11-02",
            author="Ada <&> Lovelace", subject=f"Fix \u00e9l\u00e8ve {k} </script>", category="Fixes",
            areas=["src", "docs"][: k % 3], narration=f"Fixed thing {k}.", narration_source="heuristic", files=k,
            lines_added=k * 3, lines_deleted=k, is_merge=False, is_revert=k % 7 == 0, is_bot=False,
            breaking=k % 5 == 0, omitted=["package-lock.json"] if k % 4 == 0 else [], importance=k / 3,
            tier="fix", reasons=["classified as Fixes"], description="", url="",
            entries=[EntryRef("Fixed it", "bugfix", "Fixes", "1.0", "CHANGES.md", k, "changelog")] if k % 6 else [],
            signals=[SignalRef("api_removed", "f", "a.py", 3, "def f", "source", "strong")] if k % 9 == 0 else []))
    return out


def _store(items: list[CommitEntry]) -> EntryStore:
    store = EntryStore(_entry_from_json)
    for item in items:
        store.add(item)
    return store


@pytest.mark.parametrize("on_disk", [True, False], ids=["file", "memory"])
def test_entries_behave_like_a_list(on_disk, monkeypatch) -> None:
    if not on_disk:  # no writable temporary directory: the text stays in memory
        monkeypatch.setattr(tempfile, "TemporaryFile", lambda **kw: (_ for _ in ()).throw(OSError("read-only")))
    items = _entries(40)
    store = _store(items)
    view = store.view()
    assert len(view) == len(items) and bool(view) and not store.view([])
    assert list(view) == items and list(view) == items  # repeated iteration
    assert view == items and view[0] == items[0] and view[-1] == items[-1] and view[17] == items[17]
    for cut in (slice(None, 3), slice(2, 5), slice(None, None, 2), slice(-2, None), slice(5, 2), slice(None, 100)):
        part = view[cut]
        assert isinstance(part, Entries) and list(part) == items[cut] and len(part) == len(items[cut])
    assert list(reversed(view)) == items[::-1] and items[3] in view
    with pytest.raises(IndexError):
        view[40]
    some = store.view([5, 1, 5, 30])  # by position, repeats allowed (a commit in two areas)
    assert list(some) == [items[5], items[1], items[5], items[30]] and some[1:] == [items[1], items[5], items[30]]
    texts = list(some.json_texts())
    assert all(t.isascii() and "<" not in t and ">" not in t and "&" not in t for t in texts)
    store.close()


def test_the_temporary_file_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = _store(_entries(5))
    assert list(store.view())[4].narration == "Fixed thing 4."
    if os.name == "posix":  # anonymous: no name while it is used, so nothing to clean after a crash
        assert list(tmp_path.iterdir()) == []
    store.close()
    del store
    gc.collect()
    assert list(tmp_path.iterdir()) == []


# -- whole reports over a generated history ----------------------------------------------------------------

def _build_repo(path: Path, commits: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_walk", ROOT / "bench" / "walk.py")
    walk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(walk)
    walk.build_repo(path, commits)


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> dict[int, Path]:
    out = {}
    for n in (300, 3000):
        out[n] = tmp_path_factory.mktemp("history") / f"synth-{n}"
        _build_repo(out[n], n)
    return out


def _report(repo: Path):
    from narrator.app.report import ReportRequest, build
    from narrator.app.session import Session

    with Session.open(str(repo)) as session:
        return build(session, ReportRequest(since="2000-01-01", until="2026-12-01"))


def _retained(repo: Path) -> int:
    """Bytes a built report keeps (traced memory with the report alive minus without it)."""
    _report(repo)  # warm the cache and every lazy import first
    gc.collect()
    tracemalloc.start()
    try:
        report = _report(repo)
        gc.collect()
        alive = tracemalloc.get_traced_memory()[0]
        assert len(report.commits) > 0
        del report
        gc.collect()
        return alive - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_a_built_report_keeps_no_per_commit_objects(histories, monkeypatch) -> None:
    monkeypatch.setattr(aggregate, "SPILL_FROM", 0)
    small, large = _retained(histories[300]), _retained(histories[3000])
    # an object per commit is hundreds of bytes (a CommitEntry with its lists: about 800); a position in an
    # array is 8 bytes per list a commit is in (every commit, its category, its areas, bots or merges)
    per_commit = (large - small) / 2700
    assert per_commit < 100, f"the report keeps {per_commit:.0f} bytes per commit ({small:,} -> {large:,})"


def test_entries_on_disk_change_no_output(histories, monkeypatch) -> None:
    from narrator.report.json_out import context_json
    from narrator.report.render import render
    from narrator.report.terminal import render_terminal_text

    # both runs generated at one pinned moment: the Markdown footer names the minute it was made
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    _report(histories[3000])  # both runs read every narration from the cache
    outputs = {}
    for spill_from in (10**9, 0):
        monkeypatch.setattr(aggregate, "SPILL_FROM", spill_from)
        report = _report(histories[3000])
        assert isinstance(report.commits, Entries) == (spill_from == 0)
        outputs[spill_from] = [context_json(report).replace(report.generated_at.isoformat(), ""),
                               render(report, "md", detail="full"), render(report, "html", detail="full"),
                               render_terminal_text(report, detail="full")]
        del report
    for memory, disk in zip(outputs[10**9], outputs[0]):
        assert memory == disk


def test_a_stored_entry_is_the_text_of_its_commit_entry() -> None:
    """A long window stores each entry's fields (``_entry_fields``) without making a ``CommitEntry``: the same
    keys in the same order, so the same JSON text, with and without a judgment, a narration and a forge."""
    from datetime import datetime, timedelta, timezone

    from narrator.evidence.forge import forge_of
    from narrator.git.facts import Classification, CommitFacts, FileChange, Narration, Person
    from narrator.report.json_text import piece

    when = datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    commit = CommitFacts(sha="ab" * 20, parents=("cd" * 20,), author=Person("", "ada@example.com"),
                         committer=Person("Ada", "ada@example.com"), authored_at=when, committed_at=when,
                         subject="Fix \u00e9l\u00e8ve </script> & more", is_revert=True,
                         files=(FileChange("src/a.py", added=3, deleted=1), FileChange("b.png", binary=True)))
    cl = Classification("Fixes", ("src", "docs"), "verb", breaking=True)
    narration = Narration(commit.sha, "Fixed \u00e9l\u00e8ve.", "heuristic", omitted=("package-lock.json",))
    judgment = model.Judgment(
        score=12.5, tier="fix", reasons=("classified as Fixes",), description="Fixed it", description_source="tag",
        entries=(EntryRef("Fixed it", "bugfix", "Fixes", "1.0", "CHANGES.md", 4, "changelog"),),
        signals=(SignalRef("api_removed", "f", "a.py", 3, "def f", "source", "strong"),))
    names = list(CommitEntry.__dataclass_fields__)
    forge = forge_of("https://github.com/o/r.git")
    for n, j, f in ((narration, judgment, forge), (None, None, None), (narration, None, None)):
        fields = model._entry_fields(commit, cl, n, timezone.utc, j, f)
        entry = model._entry(commit, cl, n, timezone.utc, j, f)
        assert list(fields) == names
        assert piece(fields) == piece(entry)
        assert _entry_from_json(piece(fields)) == entry
    assert entry.url == "" and model._entry(commit, cl, None, timezone.utc, None, forge).url.endswith("ab" * 20)


def test_the_walk_is_left_out_of_full_collections_until_the_report_is_made(histories, monkeypatch) -> None:
    import narrator.app.report as report_case

    seen = []
    made = report_case.build_report_from

    def build_report_from(*args, **kwargs):
        seen.append(gc.get_freeze_count())  # the walk's objects are frozen while the stages after it run
        return made(*args, **kwargs)

    monkeypatch.setattr(report_case, "build_report_from", build_report_from)
    assert gc.get_freeze_count() == 0
    _report(histories[300])
    assert seen and seen[0] > 1000 and gc.get_freeze_count() == 0  # and given back to the collector after

    def broken(*args, **kwargs):
        raise RuntimeError("stage failed")

    monkeypatch.setattr(report_case, "build_report_from", broken)
    with pytest.raises(RuntimeError):
        _report(histories[300])
    assert gc.get_freeze_count() == 0  # given back when a stage fails too


@pytest.mark.parametrize("block, gap", [(1 << 20, 4096), (1500, 700), (1, 0)])
def test_entries_read_back_in_blocks_are_the_entries_stored(block, gap, monkeypatch) -> None:
    import random

    from narrator.report import spill
    from narrator.report.json_text import piece

    monkeypatch.setattr(spill, "_BLOCK", block)
    monkeypatch.setattr(spill, "_GAP", gap)
    items = _entries(300)
    store = _store(items)
    texts = [piece(item) for item in items]
    picks = random.Random(7)
    orders = [list(range(300)), list(range(299, -1, -1)), sorted(picks.sample(range(300), 40)),
              [picks.randrange(300) for _ in range(200)], [3, 3, 3, 4, 2, 250, 251, 0], []]
    for positions in orders:
        view = store.view(positions)
        assert list(view.json_texts()) == [texts[p] for p in positions]
        assert list(view) == [items[p] for p in positions]
    store.add(items[7])  # an entry written after a read is read back too
    assert list(store.view([300, 7]).json_texts()) == [texts[7], texts[7]]
    store.close()


def test_the_context_of_entries_on_disk_is_one_dict_per_entry(histories, monkeypatch) -> None:
    monkeypatch.setattr(aggregate, "SPILL_FROM", 0)
    report = _report(histories[300])
    assert isinstance(report.commits, Entries)
    context = report.to_context()
    by_sha = {c["sha"]: c for c in context["commits"]}
    listed = [c for category in context["categories"] for c in category["items"]]
    assert listed and all(c is by_sha[c["sha"]] for c in listed)  # as entries held in memory are, by identity
    assert context["commits"] == [model._plain(c, {}) for c in report.commits]
    assert gc.isenabled()
    gc.disable()
    try:
        report.to_context()
        assert not gc.isenabled()  # a collector the caller paused stays paused
    finally:
        gc.enable()


def test_choices_from_short_best_lists_are_the_choices_from_every_commit(histories, monkeypatch) -> None:
    """The highlights and each area's topics are chosen from bounded best-lists (``aggregate._Best``); a choice
    that runs out of its list is made again from every commit (``replay``). Lists of one or two items run out
    all the time: the report must be the same, and the fallback must have been taken."""
    from narrator.report.json_out import context_json

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    _report(histories[3000])  # the cache warm: every run reads the same narrations
    replays = []
    everything = aggregate.ReportBuilder._everything

    def counted(self, choose, offer):
        replays.append(1)
        return everything(self, choose, offer)

    monkeypatch.setattr(aggregate.ReportBuilder, "_everything", counted)
    outputs = []
    for size in (256, 2, 1):
        monkeypatch.setattr(aggregate, "_HIGHLIGHT_BEST", size)
        monkeypatch.setattr(aggregate, "_TOPIC_BEST", size)
        before = len(replays)
        report = _report(histories[3000])
        outputs.append(context_json(report).replace(report.generated_at.isoformat(), ""))
        if size == 1:
            assert len(replays) > before, "no choice ran out of a one-item best-list"
        del report
    assert outputs[0] == outputs[1] == outputs[2]
    assert '"highlights": []' not in outputs[0]


def test_a_best_list_keeps_the_best_items_first_offered_first() -> None:
    import random

    from narrator.report.aggregate import _Best, _Ranked

    keys = [(k % 7, -(k % 3)) for k in range(200)]
    order = list(range(200))
    random.Random(5).shuffle(order)
    best = _Best(10)
    for seq in order:
        best.offer(_Ranked(keys[seq], seq, None))
    expected = sorted(range(200), key=lambda seq: (keys[seq], seq))[:10]
    assert [item.seq for item in best.ranked()] == expected and best.dropped
    small = _Best(300)
    for seq in order:
        small.offer(_Ranked(keys[seq], seq, None))
    assert len(small.ranked()) == 200 and not small.dropped
    none = _Best(0)
    none.offer(_Ranked((1,), 0, None))
    assert none.ranked() == [] and none.dropped
