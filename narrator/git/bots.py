"""Recognising automated authors (dependabot, renovate, ``*[bot]``, ``*bot`` logins, CI accounts) from patterns.

A pattern is tried on the author's name, e-mail and e-mail local part; a pattern that starts with ``*`` (``*bot``)
is tried on one-word names only (logins such as ``jekyllbot``), so that John Talbot or talbot@example.com is
not taken for a bot (``*[bot]*`` is the exception: that marker is only ever a bot's).
"""

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
            one_word = bool(name.strip()) and " " not in name.strip()
            found = known[person] = any(
                (one_word and fnmatchcase(name, p)) if p.startswith("*") and "[" not in p else
                (fnmatchcase(name, p) or fnmatchcase(email, p) or fnmatchcase(local, p)) for p in lowered
            )
        return found

    return is_bot
