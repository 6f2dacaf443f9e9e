"""``signals._lines_with`` numbers the lines it finds by counting marks on from the last line found: the numbers
must be those of counting from the start of the hunk for every line (random hunks)."""

from __future__ import annotations

import random
from types import SimpleNamespace

from narrator.evidence.signals import _lines_with


def _counted_from_start(hunk, needles):
    text = hunk.text
    starts = set()
    for needle in needles:
        at = text.find(needle)
        while at != -1:
            starts.add(text.rfind("\n", 0, at) + 1)
            end = text.find("\n", at)
            if end == -1:
                break
            at = text.find(needle, end)
    out = []
    first = text[:1]
    for start in sorted(starts):
        end = text.find("\n", start)
        line = text[start:end] if end != -1 else text[start:]
        mark = line[:1] or " "
        if mark not in "+- ":
            continue
        before = text.count("\n", 0, start)
        lead = start > 0
        back = text.count("\n\\", 0, start) + (lead and first == "\\")
        if mark == "-":
            number = hunk.old_start + before - (text.count("\n+", 0, start) + (lead and first == "+")) - back
        else:
            number = hunk.new_start + before - (text.count("\n-", 0, start) + (lead and first == "-")) - back
        out.append((mark, number, line[1:]))
    return out


def test_numbers_as_counted_from_the_start():
    rng = random.Random(5)
    for _ in range(5000):
        lines = [rng.choice("+- \\") + rng.choice(["x", "def f", "", "y = 1", "def", "+", "-"])
                 for _ in range(rng.randint(0, 30))]
        hunk = SimpleNamespace(text="\n".join(lines), old_start=rng.randint(1, 50), new_start=rng.randint(1, 50))
        for needles in (["def"], ["x", "y"], ["+"], ["-", "def"]):
            assert _lines_with(hunk, needles) == _counted_from_start(hunk, needles), (hunk, needles)
