"""The one table of commit categories: name, order, weight, words and colour of each.

Every other module (classification rules, the report model, renderers, charts, the heuristic engine) reads
categories from here, so adding or renaming one is a change in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str          # as shown in reports ("Build & CI")
    weight: float      # how much a commit of this kind matters to users (highlight ranking)
    noun_one: str      # "fix" ("1 fix")
    noun_many: str     # "fixes"
    tag: str           # short label next to highlights and items ("fix")
    color: str         # chart colour
    delivered: bool    # counts as delivered work in headlines (features, fixes, speed-ups)
    phrase: str = ""   # what a heuristic sentence says it touched ("the documentation"), where useful


CATEGORIES: tuple[Category, ...] = (
    Category("Features", 5.0, "new feature or improvement", "new features and improvements", "feature", "#2563c9",
             True),
    Category("Fixes", 4.0, "fix", "fixes", "fix", "#d9731a", True),
    Category("Performance", 4.0, "speed-up", "speed-ups", "speed-up", "#0f8f7e", True),
    Category("Refactoring", 1.5, "code reorganisation", "code reorganisations", "reorganisation", "#7c5cbf", False),
    Category("Documentation", 1.0, "documentation update", "documentation updates", "documentation", "#4f8a2e",
             False, "documentation"),
    Category("Tests", 1.0, "test change", "test changes", "tests", "#5f7388", False, "tests"),
    Category("Dependencies", 0.5, "dependency update", "dependency updates", "dependencies", "#a48a1f", False,
             "dependencies"),
    Category("Build & CI", 0.6, "build or automation change", "build and automation changes", "build", "#6b6f9e",
             False, "build and automation setup"),
    Category("Chores", 0.5, "upkeep change", "upkeep changes", "upkeep", "#8f969e", False),
    Category("Reverts", 1.5, "undone change", "undone changes", "undone", "#c23b33", False),
    Category("Merges", 0.0, "merge", "merges", "merge", "#9aa3ad", False),
)

BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
# The order categories of work are listed in (merges are bookkeeping, never work).
WORK_ORDER: tuple[str, ...] = tuple(c.name for c in CATEGORIES if c.name != "Merges")
DELIVERED: tuple[str, ...] = tuple(c.name for c in CATEGORIES if c.delivered)
_OTHER_COLOR = "#8f969e"


def get(name: str) -> Category | None:
    return BY_NAME.get(name)


def weight(name: str) -> float:
    found = BY_NAME.get(name)
    return found.weight if found else 0.5


def phrase(name: str, count: int) -> str:
    """"3 fixes", "1 new feature or improvement"; a user's own category is named as written."""
    found = BY_NAME.get(name)
    if found is None:
        return f"{count:,} {name.lower()}"
    return f"{count:,} {found.noun_one if count == 1 else found.noun_many}"


def tag(name: str) -> str:
    found = BY_NAME.get(str(name))
    return found.tag if found else str(name).lower()


def color(name: str) -> str:
    found = BY_NAME.get(str(name))
    return found.color if found else _OTHER_COLOR
