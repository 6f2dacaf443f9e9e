"""Recognising automated authors (dependabot, renovate, ``*[bot]``, CI accounts) from configurable patterns."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Callable, Sequence

from narrator.git.facts import Person


def bot_matcher(patterns: Sequence[str]) -> Callable[[Person], bool]:
    """A predicate that is true when the person's name or e-mail matches any pattern (case-insensitive)."""
    # "[" is literal here (``*[bot]*`` means the text "[bot]"), not an fnmatch character class.
    lowered = [p.lower().replace("[", "[[]") for p in patterns]

    known: dict[Person, bool] = {}  # a history has few distinct people: decide once per person

    def is_bot(person: Person) -> bool:
        found = known.get(person)
        if found is None:
            name = person.name.lower()
            email = person.email.lower()
            local = email.split("@", 1)[0]
            found = known[person] = any(
                fnmatchcase(name, p) or fnmatchcase(email, p) or fnmatchcase(local, p) for p in lowered
            )
        return found

    return is_bot
