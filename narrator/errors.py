"""The one error family of narrator: every message says what failed and how to fix it.

The CLI turns a ``NarratorError`` into one line on stderr and the exit code it carries.
"""

from __future__ import annotations


class NarratorError(Exception):
    """Base of every error narrator raises on purpose."""

    exit_code = 1


class UsageError(NarratorError):
    """The command line or a config value is wrong (exit 2, like click's usage errors)."""

    exit_code = 2


class TimeSpecError(UsageError):
    """A --since/--until value could not be understood."""


class ConfigError(UsageError):
    """A config file or value is invalid."""


class RepositoryError(NarratorError):
    """The path is not a usable git repository, or a git command failed."""


class RevisionError(UsageError):
    """A branch, tag or revision does not exist."""


class OutputError(NarratorError):
    """An output file or directory cannot be written."""


class EngineError(NarratorError):
    """A narration engine cannot be loaded or failed to run."""


class CacheError(NarratorError):
    """The cache database cannot be opened or written."""
