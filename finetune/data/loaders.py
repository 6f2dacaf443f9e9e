"""Reading records: local JSON Lines (gzip or not) with precise errors, or the public datasets on the hub.

Local layout (as in ``../shared/data``): ``<root>/<task>/<split>.jsonl[.gz]`` with task ``functions``,
``commits`` or ``changelog``; a relative root is looked up from the working directory, then from the
repository that holds ``finetune`` and its parent folders (so a recipe's ``../shared/data`` works from a
checkout or a worktree). Every problem names the file, the line and the field. The hub loaders map CodeSearchNet and
CommitPackFT onto the same records; they need ``datasets`` and network access and are never used by tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from pathlib import Path
from typing import Iterator

from finetune.data.schema import CommitRecord, FunctionRecord, Record, record_from_dict
from finetune.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")

# Public datasets and the revisions the recipes are pinned to. Pin a commit sha before a published run
# (`huggingface-cli repo info` or the dataset page's history gives it); "main" follows the latest.
HUB_DATASETS = {
    "functions": {"path": "code-search-net/code_search_net", "revision": "main"},
    "commits": {"path": "bigcode/commitpackft", "revision": "main"},
}
_HUB_LANGUAGE_CONFIGS = {"Python": "python", "Java": "java", "JavaScript": "javascript", "PHP": "php",
                         "Ruby": "ruby", "Go": "go"}
_HUB_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def root_candidates(root: str | Path) -> list[Path]:
    """Where a data root may be: as given, else (relative roots) from the repository holding ``finetune``
    and each of its parent folders."""
    path = Path(root).expanduser()
    if path.is_absolute():
        return [path]
    out = [path]
    tail = Path(*[p for p in path.parts if p not in ("..", ".")]) if path.parts else path
    repo = Path(__file__).resolve().parents[2]
    out.append((repo / path).resolve())
    for parent in [repo, *repo.parents]:
        out.append(parent / tail)
    return list(dict.fromkeys(out))


def resolve_root(root: str | Path) -> Path:
    """The first existing folder among ``root_candidates`` (else ``root`` itself, for the error message)."""
    for candidate in root_candidates(root):
        if candidate.is_dir():
            return candidate
    return Path(root)


def has_task(root: str | Path, task: str, split: str) -> bool:
    try:
        data_file(root, task, split)
    except DataError:
        return False
    return True


def data_file(root: str | Path, task: str, split: str) -> Path:
    """The file holding one task's split under ``root`` (``.jsonl.gz`` preferred, then ``.jsonl``)."""
    base = resolve_root(root) / task
    for name in (f"{split}.jsonl.gz", f"{split}.jsonl"):
        if (base / name).is_file():
            return base / name
    raise DataError(f"no {task} {split} data: neither {base / (split + '.jsonl.gz')} nor {base / (split + '.jsonl')}"
                    " exists; point data.root at a folder laid out like ../shared/data, or run "
                    "`python -m finetune mine` to build one")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every non-blank line; a broken line raises ``DataError`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file {p} does not exist")
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{p}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
                yield lineno, obj
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{p}: cannot be read ({exc}); is it a complete gzip/UTF-8 JSON Lines file?") from None


def read_records(path: str | Path, task: str) -> list[Record]:
    """All records of one JSON Lines file, validated field by field."""
    return [record_from_dict(task, obj, f"{path}:{lineno}") for lineno, obj in iter_jsonl(path)]


def load_local(root: str | Path, task: str, split: str) -> list[Record]:
    """Records of one task and split from a local folder laid out like ``../shared/data``."""
    return read_records(data_file(root, task, split), task)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- hub (online only)

def _first_paragraph(doc: str, language: str) -> str:
    from finetune.data.filters import summarize_docstring

    return summarize_docstring(doc or "", language)


def load_hub(task: str, split: str, languages: tuple[str, ...] | list[str],
             revisions: dict[str, str] | None = None) -> list[CommitRecord | FunctionRecord]:
    """CodeSearchNet (functions) or CommitPackFT (commits) from the Hugging Face hub, as records.

    CommitPackFT has only a train split: the study's val/test were carved from it, so here ``val`` and
    ``test`` take the records whose ``sha1(repos)`` falls in the last 1/8 and 1/8 before it (repository
    split, no leakage) and ``train`` the rest.
    """
    if task not in HUB_DATASETS:
        raise DataError(f"the {task} task has no public dataset on the hub; use data.source=local with a folder "
                        "laid out like ../shared/data (or `python -m finetune mine` to build one)")
    try:
        import datasets  # noqa: F401
        from datasets import load_dataset
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError("data.source=hub needs the `datasets` package: pip install 'narrator[finetune]'") from None
    spec = HUB_DATASETS[task]
    revision = (revisions or {}).get(task, spec["revision"])
    out: list[CommitRecord | FunctionRecord] = []
    for language in languages:
        config = _HUB_LANGUAGE_CONFIGS[language]
        try:
            if task == "functions":
                ds = load_dataset(spec["path"], config, split=_HUB_SPLITS[split], revision=revision)
            else:
                ds = load_dataset(spec["path"], config, split="train", revision=revision)
        except Exception as exc:  # network, auth or a renamed dataset: say which
            raise DataError(f"cannot load {spec['path']} ({config}, revision {revision}) from the hub: {exc}; "
                            "use data.source=local with files laid out like ../shared/data offline") from None
        for i, row in enumerate(ds):
            where = f"{spec['path']}[{config}/{split}]:{i}"
            if task == "functions":
                doc = row.get("func_documentation_string", "")
                code = row.get("func_code_string", "")
                if doc and doc in code:  # CodeSearchNet keeps the docstring inside Python code
                    code = code.replace(doc, "", 1)
                out.append(record_from_dict(task, {
                    "repository_name": row.get("repository_name", ""),
                    "func_path_in_repository": row.get("func_path_in_repository", ""),
                    "func_name": row.get("func_name", ""), "language": language, "code": code,
                    "docstring": doc, "summary": _first_paragraph(doc, language) or "-",
                }, where))
            else:
                bucket = int(hashlib.sha1(row.get("repos", "").encode()).hexdigest(), 16) % 8
                wanted = {"train": range(0, 6), "val": range(6, 7), "test": range(7, 8)}[split]
                if bucket not in wanted:
                    continue
                record = {k: row.get(k) or "" for k in ("commit", "repos", "old_file", "new_file", "old_contents",
                                                        "new_contents", "subject", "message", "license")}
                record["lang"] = language
                record["diff"] = _unified_diff(record["old_contents"], record["new_contents"], record["new_file"])
                out.append(record_from_dict(task, record, where))
    return out


def _unified_diff(old: str, new: str, path: str) -> str:
    """A ``git show``-like unified diff (-U3) of two file versions; CommitPackFT ships contents, not diffs."""
    import difflib

    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{path}" if old else "/dev/null",
                                 tofile=f"b/{path}" if new else "/dev/null", n=3)
    header = f"diff --git a/{path} b/{path}\n"
    if not old:
        header += "new file mode 100644\n"
    elif not new:
        header += "deleted file mode 100644\n"
    body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return header + body if body else ""
