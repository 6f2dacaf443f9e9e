"""``signals._lines_with`` numbers the lines it finds by counting marks on from the last line found: the numbers
must be those of walking every line of the hunk in turn (``_walk``; random hunks)."""

from __future__ import annotations

import random

from narrator.evidence.patch import Hunk
from narrator.evidence.signals import _lines_with, _walk


def _counted_from_start(hunk, needles):
    """The lines holding a needle, numbered by ``_walk`` (every body line in turn, the plain way)."""
    raws = [raw for raw in hunk.body if raw[:1] != "\\"]
    return [found for found, raw in zip(_walk(hunk), raws) if any(needle in raw for needle in needles)]


def test_numbers_as_counted_from_the_start():
    rng = random.Random(5)
    for _ in range(5000):
        lines = [rng.choice("+- \\") + rng.choice(["x", "def f", "", "y = 1", "def", "+", "-"])
                 for _ in range(rng.randint(0, 30))]
        hunk = Hunk(old_start=rng.randint(1, 50), old_count=0, new_start=rng.randint(1, 50), new_count=0,
                    section="", text="\n".join(lines))
        for needles in (["def"], ["x", "y"], ["+"], ["-", "def"]):
            assert _lines_with(hunk, needles) == _counted_from_start(hunk, needles), (hunk, needles)
