"""Evidence from diffs: the diffs judging reads, turned into each commit's evidence, and ``DiffsAhead``, which
reads the likely ones on a thread while git is still walking the window.

``evidence_from_diffs`` is the one way a commit's diff becomes its ``CommitEvidence``: the diff parsed (hunks kept
where signals are looked for), the changelog files it touches read as they stood after it (the section an entry
sits under), then ``gather``. Judging reads at most ``PATCH_LIMIT`` diffs, chosen over the whole window
(``app/evidence._patch_shas``), so the choice is known only when the walk ends; but a running best list during the
walk (``JudgedAhead``) holds most of the final choice long before. Past ``DIFFS_AHEAD_FROM`` of the walk,
``DiffsAhead`` asks git for the diffs of the commits on that list, and of each commit that joins it later, and
makes their evidence on its own thread (git diffs on the core the walk leaves free, at a lower priority, while
the main thread waits for git's output); a commit pushed off the list is dropped. Judging then reads only the diffs of the commits it
chose that were never asked for. The evidence is made from the same commit, classification and diff either way,
so a report says the same (tests/test_judged_ahead.py); a failure here only means judging reads the diff itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Iterable, Mapping, Sequence

from narrator.evidence.changelog import changelog_file_kind
from narrator.evidence.commit import CommitEvidence, gather
from narrator.evidence.patch import parse_patch
from narrator.evidence.paths import wants_hunks
from narrator.git.facts import Classification, CommitFacts
from narrator.git.patches import read_blobs, read_patches
from narrator.git.walker import Repository

log = logging.getLogger(__name__)

DIFFS_AHEAD_FROM = 0.6  # share of the walk after which the running best list's diffs are read: diffs read for
#                         the 400 chosen from 0.5 / 0.6 / 0.7 of the walk: numpy 624 / 537 / 503 (from the start:
#                         1,750), composer 570 / 524 / 500, flask 573 / 539 / 513, lodash 683 / 625 / 584


def commit_evidence(c: CommitFacts, cl: Classification, files: Sequence[object] | None = None,
                    after: Mapping[str, str] | None = None) -> CommitEvidence:
    """``gather`` for one commit as its classification has it: from its files (``files``: its parsed diff
    instead), with the changelogs' texts after it (``after``)."""
    return gather(c.sha, c.subject, c.body, c.files if files is None else files, category=cl.category,
                  breaking=cl.breaking, is_merge=c.is_merge, is_revert=c.is_revert, is_bot=c.is_bot,
                  texts_after=after or {})


def _changelogs(c: CommitFacts) -> list[str]:
    """The changelog files a commit leaves (changed or added: their text after it is read)."""
    return [f.path for f in c.files if changelog_file_kind(f.path) and f.change_type.value != "deleted"]


def evidence_from_diffs(repo: Repository, commits: Sequence[tuple[CommitFacts, Classification]],
                        texts: Iterable[tuple[str, str]], on_parsed: Callable[[], None] | None = None,
                        background: bool = False) -> dict[str, CommitEvidence]:
    """The evidence of each of these commits whose diff is among ``texts`` (``(sha, diff text)``, as
    ``read_patches`` gives them), judged with its classification; the others are left out (``background``:
    the changelogs' texts read by git at a lower priority)."""
    by_sha = {c.sha: (c, cl) for c, cl in commits}
    found: dict[str, CommitEvidence] = {}
    waiting: dict[str, tuple] = {}  # parsed diffs of commits that change a changelog: judged with its text after
    changelogs: list[tuple[str, str]] = []
    for sha, text in texts:  # a diff is judged as it comes: at most the changelog commits' diffs are held
        if sha not in by_sha:
            continue
        patch = parse_patch(text, keep=wants_hunks)
        if on_parsed is not None:
            on_parsed()
        paths = _changelogs(by_sha[sha][0])
        if paths:
            waiting[sha] = patch
            changelogs.extend((sha, path) for path in paths)
        else:
            found[sha] = commit_evidence(*by_sha[sha], patch or None)
    after: dict[str, dict[str, str]] = {}
    for (sha, path), text in (read_blobs(repo, changelogs, background) if changelogs else {}).items():
        after.setdefault(sha, {})[path] = text
    for sha, patch in waiting.items():
        found[sha] = commit_evidence(*by_sha[sha], patch or None, after.get(sha))
    return found


class DiffsAhead:
    """Diffs read, and made into evidence, on a thread while git walks: ``ask`` for commits likely to be chosen,
    ``drop`` one that no longer can be, ``finish`` once the walk is over for what was made (with the
    classification each was made with)."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._asked: dict[str, tuple[CommitFacts, Classification]] = {}  # asked and not dropped
        self._made: dict[str, tuple[CommitEvidence, Classification]] = {}
        self._queue: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failed = False

    def ask(self, commits: Iterable[tuple[CommitFacts, Classification]]) -> None:
        """Read these commits' diffs (those not asked for before), in one git process, after those asked before."""
        fresh = [(c, cl) for c, cl in commits if c.sha not in self._asked]
        if not fresh:
            return
        self._asked.update((c.sha, (c, cl)) for c, cl in fresh)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="narrator-diffs-ahead", daemon=True)
            self._thread.start()
        self._queue.put([c.sha for c, _ in fresh])

    def drop(self, sha: str) -> None:
        """This commit's diff will not be read: forget it (and its evidence, if made already)."""
        self._asked.pop(sha, None)
        self._made.pop(sha, None)

    def asked(self) -> set[str]:
        """The commits whose diffs are read here (asked for and not dropped)."""
        return set(self._asked)

    def finish(self) -> dict[str, tuple[CommitEvidence, Classification]]:
        """Waits for the diffs asked for; the evidence made of each (a failed read leaves its commits out)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return {sha: made for sha, made in self._made.items() if sha in self._asked}

    def close(self) -> None:
        """No more diffs are wanted (the report failed): the thread ends after the read under way, without
        waiting for it here."""
        if self._thread is not None:
            self._failed = True
            self._queue.put(None)
            self._thread = None

    def _run(self) -> None:
        while (shas := self._queue.get()) is not None:
            if self._failed:
                continue
            wanted = [item for sha in shas if (item := self._asked.get(sha)) is not None]
            try:
                made = evidence_from_diffs(self._repo, wanted, read_patches(self._repo, [c.sha for c, _ in wanted],
                                                                            background=True), background=True)
            except Exception as exc:  # noqa: BLE001 - judging reads these diffs itself, and reports what fails
                log.debug("diffs read ahead failed: %s", exc)
                self._failed = True
                continue
            for c, cl in wanted:
                if c.sha in made and c.sha in self._asked:
                    self._made[c.sha] = (made[c.sha], cl)
