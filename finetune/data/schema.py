"""The two record kinds (CommitPackFT-style commits, CodeSearchNet-style functions) and the training example.

Records keep the field names of the public datasets (and of ``../shared/data``) so the same loader reads
both. ``Example`` is what training and evaluation consume: user text built by ``narrator.prompts`` and the
target sentence.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from finetune.errors import DataError
from narrator.prompts import format_commit_text, format_function_text


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

    def to_example(self) -> "Example":
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

    def to_example(self) -> "Example":
        return Example(task="functions", language=self.language, uid=self.uid, repo=self.repository_name,
                       user_text=format_function_text(self.code, self.language, self.func_name),
                       target=self.summary)


RECORD_TYPES = {"commits": CommitRecord, "functions": FunctionRecord}


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


def record_from_dict(task: str, data: Mapping[str, Any], where: str) -> CommitRecord | FunctionRecord:
    """Build a record from one JSON object, naming ``where`` (file:line) and the field on any problem."""
    cls = RECORD_TYPES[task]
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected a JSON object, found {type(data).__name__}")
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
