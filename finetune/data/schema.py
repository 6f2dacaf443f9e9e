"""The three record kinds and the training example.

CommitPackFT-style commits (one file's diff -> the subject), CodeSearchNet-style functions (code -> the
docstring's summary) and changelog pairs (a commit's message and code diff -> the human-written changelog
entry, ``../shared/data/changelog``). Records keep the field names of the public datasets (and of
``../shared/data``) so the same loader reads them. ``Example`` is what training and evaluation consume: user
text built by ``narrator.prompts`` and the target sentence.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping

from finetune.errors import DataError
from narrator.prompts import (
    build_narration_prompt,
    format_commit_text,
    format_function_text,
    format_message,
    narration_budget,
    split_message,
    split_unified_diff,
)


@dataclass(frozen=True)
class CommitRecord:
    """One single-file commit: diff -> commit subject (CommitPackFT fields)."""

    commit: str
    repos: str
    lang: str
    old_file: str
    new_file: str
    diff: str
    subject: str
    message: str = ""
    old_contents: str = ""
    new_contents: str = ""
    license: str = ""
    author_date: str = ""

    REQUIRED = ("commit", "repos", "lang", "new_file", "diff", "subject")

    @property
    def change_type(self) -> str:
        head = self.diff[:600]
        if "\nnew file mode" in head or head.startswith("new file mode"):
            return "added"
        if "\ndeleted file mode" in head or head.startswith("deleted file mode"):
            return "deleted"
        return "modified"

    @property
    def uid(self) -> str:
        return f"{self.repos}:{self.commit}:{self.new_file or self.old_file}"

    def to_example(self, count_tokens: Callable[[str], int] | None = None) -> "Example":
        path = self.new_file or self.old_file
        return Example(task="commits", language=self.lang, uid=self.uid, repo=self.repos,
                       user_text=format_commit_text(self.diff, path, self.change_type), target=self.subject)


@dataclass(frozen=True)
class FunctionRecord:
    """One documented function: code -> first paragraph of its documentation (CodeSearchNet fields)."""

    repository_name: str
    func_path_in_repository: str
    func_name: str
    language: str
    code: str
    summary: str
    docstring: str = ""
    license: str = ""
    commit: str = ""

    REQUIRED = ("repository_name", "func_name", "language", "code", "summary")

    @property
    def uid(self) -> str:
        digest = hashlib.sha1(self.code.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.repository_name}:{self.func_path_in_repository}:{self.func_name}:{digest}"

    def to_example(self, count_tokens: Callable[[str], int] | None = None) -> "Example":
        return Example(task="functions", language=self.language, uid=self.uid, repo=self.repository_name,
                       user_text=format_function_text(self.code, self.language, self.func_name),
                       target=self.summary)


CHANGELOG_KINDS = ("feature", "bugfix", "change", "doc", "removal", "deprecation", "security", "performance",
                   "packaging", "misc")


@dataclass(frozen=True)
class ChangelogRecord:
    """A commit that added one changelog entry: message + code diff -> that entry (``../shared/data/changelog``).

    ``diff`` holds every changed file except the changelog files (``files`` names them); ``entry`` is the
    cleaned, plain-text entry (the target), ``entry_raw`` the entry as written.
    """

    repos: str
    commit: str
    lang: str
    subject: str
    message: str
    diff: str
    entry: str
    license: str = ""
    author_date: str = ""
    diff_truncated: bool = False
    files: tuple[str, ...] = ()
    changelog_file: str = ""
    entry_raw: str = ""
    kind: str = ""
    refs: tuple[str, ...] = ()

    REQUIRED = ("repos", "commit", "lang", "subject", "diff", "entry")

    @property
    def uid(self) -> str:
        return f"{self.repos}:{self.commit}:{self.changelog_file}"

    def user_text(self, count_tokens: Callable[[str], int] | None = None) -> str:
        """The narration prompt's user text, exactly as the ``hf`` engine builds it for a commit."""
        subject, body = split_message(self.message or self.subject)
        message = format_message(subject or self.subject, body)
        return build_narration_prompt(message, split_unified_diff(self.diff), narration_budget(count_tokens)).text

    def to_example(self, count_tokens: Callable[[str], int] | None = None) -> "Example":
        return Example(task="changelog", language=self.lang, uid=self.uid, repo=self.repos,
                       user_text=self.user_text(count_tokens), target=self.entry)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        data["refs"] = list(self.refs)
        data["kind"] = self.kind or None
        return data


RECORD_TYPES = {"commits": CommitRecord, "functions": FunctionRecord, "changelog": ChangelogRecord}


@dataclass(frozen=True)
class Example:
    """A training/evaluation pair: the prompt's user text and the target sentence."""

    task: str
    language: str
    uid: str
    user_text: str
    target: str
    repo: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Record = CommitRecord | FunctionRecord | ChangelogRecord


def record_from_dict(task: str, data: Mapping[str, Any], where: str) -> Record:
    """Build a record from one JSON object, naming ``where`` (file:line) and the field on any problem."""
    cls = RECORD_TYPES[task]
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected a JSON object, found {type(data).__name__}")
    if cls is ChangelogRecord:
        return _changelog_from_dict(data, where)
    for name in cls.REQUIRED:
        if name not in data:
            raise DataError(f"{where}: field '{name}' is missing (a {task} record needs "
                            f"{', '.join(cls.REQUIRED)})")
    known = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for name in known:
        if name not in data:
            continue
        value = data[name]
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise DataError(f"{where}: field '{name}' must be a string, found {type(value).__name__}")
        kwargs[name] = value
    for name in cls.REQUIRED:
        if not kwargs.get(name, "").strip():
            raise DataError(f"{where}: field '{name}' is empty")
    return cls(**kwargs)


def _changelog_from_dict(data: Mapping[str, Any], where: str) -> ChangelogRecord:
    for name in ChangelogRecord.REQUIRED:
        if name not in data:
            raise DataError(f"{where}: field '{name}' is missing (a changelog record needs "
                            f"{', '.join(ChangelogRecord.REQUIRED)})")
    kwargs: dict[str, Any] = {}
    for f in fields(ChangelogRecord):
        if f.name not in data or data[f.name] is None:
            continue
        value = data[f.name]
        if f.name == "diff_truncated":
            if not isinstance(value, bool):
                raise DataError(f"{where}: field 'diff_truncated' must be true or false, found {type(value).__name__}")
        elif f.name in ("files", "refs"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DataError(f"{where}: field '{f.name}' must be a list of strings")
            value = tuple(value)
        elif not isinstance(value, str):
            raise DataError(f"{where}: field '{f.name}' must be a string, found {type(value).__name__}")
        kwargs[f.name] = value
    for name in ChangelogRecord.REQUIRED:
        if name != "diff" and not str(kwargs.get(name, "")).strip():  # no code diff: dropped by the filters
            raise DataError(f"{where}: field '{name}' is empty")
    kind = kwargs.get("kind", "")
    if kind and kind not in CHANGELOG_KINDS:
        raise DataError(f"{where}: field 'kind' is {kind!r}; one of {', '.join(CHANGELOG_KINDS)} or null")
    return ChangelogRecord(**kwargs)
