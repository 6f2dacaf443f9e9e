"""``mine``: build both record kinds from local git repositories, so a team can train on its own history.

Commits go through narrator's own walker (``list_commits``, ``read_facts``, ``GitDiffs``): every non-merge
commit that changes exactly one file of a supported language becomes a commit record if it passes the
CommitPackFT-style filters. Functions come from the HEAD tree: Python is parsed with the standard
``ast`` module (module-level functions and class methods with a docstring); Java, JavaScript, PHP, Ruby
and Go go through ``finetune.data.functions`` (lizard boundaries, per-language doc comments; the shared
data used tree-sitter for them).

Splits are by repository (no leakage): ``--test-repo``/``--val-repo`` name them; otherwise the last
repository is TEST and VAL takes the train repositories' items whose ``sha1(uid)`` is 0 mod 8. Nothing
is written to the analysed repositories.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import logging
import random
import textwrap
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Sequence

from finetune.data.filters import (COMMIT_EXTENSIONS, commit_rejection, deduplicate, function_rejection,
                                   summarize_docstring)
from finetune.data.schema import CommitRecord, FunctionRecord
from finetune.errors import DataError

log = logging.getLogger(__name__)

_EXT_LANGUAGE = {ext: lang for lang, exts in COMMIT_EXTENSIONS.items() for ext in exts}


def _language_of(path: str) -> str | None:
    lower = path.lower()
    for ext, lang in _EXT_LANGUAGE.items():
        if lower.endswith(ext):
            return lang
    return None


def mine_commits(repo_path: str | Path, max_commits: int = 0) -> tuple[list[CommitRecord], Counter]:
    """Commit records of one repository (newest first), with a count of why others were dropped."""
    from narrator.config import DEFAULT_BOT_PATTERNS
    from narrator.git.bots import bot_matcher
    from narrator.git.walker import GitDiffs, Repository, WalkSpec, list_commits, read_facts

    repo = Repository.open(repo_path)
    name = repo.name
    is_bot = bot_matcher(DEFAULT_BOT_PATTERNS)
    shas = [sha for sha, _ in list_commits(repo, WalkSpec())]
    if max_commits:
        shas = shas[:max_commits]
    diffs = GitDiffs(repo)
    records: list[CommitRecord] = []
    dropped: Counter = Counter()
    for facts in read_facts(repo, shas):
        if facts.is_merge:
            dropped["merge"] += 1
            continue
        if len(facts.files) != 1:
            dropped["not exactly one file"] += 1
            continue
        change = facts.files[0]
        if change.change_type.value not in ("added", "modified", "deleted"):
            dropped["rename, copy or type change"] += 1
            continue
        language = _language_of(change.path)
        if language is None:
            dropped["language not supported"] += 1
            continue
        if is_bot(facts.author):
            dropped["bot author"] += 1
            continue
        file_diffs = [d for d in diffs.file_diffs(facts) if d.path == change.path]
        if not file_diffs or not file_diffs[0].diff:
            dropped["no text diff"] += 1
            continue
        parent = facts.parents[0] if facts.parents else None
        old = diffs.file_at(parent, change.path) if parent and change.change_type.value != "added" else ""
        new = diffs.file_at(facts.sha, change.path) if change.change_type.value != "deleted" else ""
        message = facts.subject + (f"\n\n{facts.body}" if facts.body else "")
        record = CommitRecord(commit=facts.sha, repos=name, lang=language, old_file=change.path,
                              new_file=change.path, diff=file_diffs[0].diff, subject=facts.subject,
                              message=message, old_contents=old, new_contents=new,
                              author_date=facts.authored_at.isoformat())
        reason = commit_rejection(record, author=f"{facts.author.name} <{facts.author.email}>")
        if reason:
            dropped[reason] += 1
            continue
        records.append(record)
    return records, dropped


def extract_python_functions(source: str, path: str, repo: str, commit: str = "") -> list[FunctionRecord]:
    """Documented module-level functions and class methods of one Python file, docstrings cut out."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.splitlines(keepends=True)
    out: list[FunctionRecord] = []

    def visit(nodes: Iterable[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef) and not prefix:
                visit(node.body, f"{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if not doc or not node.body:
                    continue
                first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
                doc_node = node.body[0]
                kept = lines[first - 1: doc_node.lineno - 1] + lines[doc_node.end_lineno: node.end_lineno]
                code = textwrap.dedent("".join(kept)).strip("\n")
                out.append(FunctionRecord(repository_name=repo, func_path_in_repository=path,
                                          func_name=prefix + node.name, language="Python", code=code,
                                          docstring=doc, summary=summarize_docstring(doc, "Python"),
                                          commit=commit))

    visit(tree.body, "")
    return out


def mine_functions(repo_path: str | Path) -> tuple[list[FunctionRecord], Counter]:
    """Function records from the HEAD tree of one repository (the six languages, see the module docstring)."""
    from finetune.data.functions import extract_functions, function_language, is_generated, is_skipped_path
    from narrator.git.text import decode
    from narrator.git.walker import GitDiffs, Repository, run_git

    repo = Repository.open(repo_path)
    if not repo.has_commits():
        return [], Counter()
    head = repo.resolve("HEAD")
    files = decode(run_git(repo.root, ["ls-tree", "-r", "--name-only", "-z", head]).stdout).split("\0")
    diffs = GitDiffs(repo)
    records: list[FunctionRecord] = []
    dropped: Counter = Counter()
    for path in files:
        language = function_language(path)
        if language is None or is_skipped_path(path):
            continue
        source = diffs.file_at(head, path)
        if is_generated(source):
            continue
        found = (extract_python_functions(source, path, repo.name, head) if language == "Python"
                 else extract_functions(source, path, repo.name, head, language))
        for record in found:
            reason = function_rejection(record)
            if reason:
                dropped[reason] += 1
            else:
                records.append(record)
    return records, dropped


def _split_of(uid: str) -> str:
    return "val" if int(hashlib.sha1(uid.encode()).hexdigest(), 16) % 8 == 0 else "train"


def _cap(records: list, per_language: int, seed: int, lang_of) -> list:
    by_lang: dict[str, list] = defaultdict(list)
    for r in records:
        by_lang[lang_of(r)].append(r)
    out = []
    for lang in sorted(by_lang):
        items = by_lang[lang]
        if per_language and len(items) > per_language:
            items = random.Random(f"{seed}:{lang}").sample(items, per_language)
        out.extend(items)
    return out


def _write(path: Path, records: Sequence) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as handle:
        for r in records:
            data = asdict(r)
            handle.write(json.dumps(data, ensure_ascii=False) + "\n")
    tmp.replace(path)


def mine_repositories(repos: Sequence[str], out: str | Path, *, test_repos: Sequence[str] = (),
                      val_repos: Sequence[str] = (), max_commits: int = 0, per_language: int = 2100,
                      seed: int = 20240611) -> dict:
    """Mine every repository and write ``out/{functions,commits}/{train,val,test}.jsonl.gz``."""
    if not repos:
        raise DataError("mine needs at least one repository path")

    def matches(path: str, names: Sequence[str]) -> bool:
        p = Path(path).resolve()
        return any(Path(n).resolve() == p or Path(n).name == p.name for n in names)

    roles: dict[str, str] = {}
    for path in repos:
        roles[path] = "test" if matches(path, test_repos) else "val" if matches(path, val_repos) else "train"
    if not test_repos and len(repos) >= 2:
        roles[repos[-1]] = "test"
        log.info("no --test-repo given: %s is the TEST repository", repos[-1])
    splits: dict[str, dict[str, list]] = {t: {"train": [], "val": [], "test": []} for t in ("functions", "commits")}
    report: dict = {"repositories": {}, "dropped": {}}
    for path in repos:
        commits, c_drop = mine_commits(path, max_commits)
        functions, f_drop = mine_functions(path)
        commits = list(deduplicate(commits))
        functions = list(deduplicate(functions))
        role = roles[path]
        for task, records in (("commits", commits), ("functions", functions)):
            for r in records:
                split = role if role != "train" else _split_of(r.uid)
                splits[task][split].append(r)
        report["repositories"][path] = {"role": role, "commits": len(commits), "functions": len(functions)}
        report["dropped"][path] = {"commits": dict(c_drop), "functions": dict(f_drop)}
    out = Path(out)
    counts: dict = {}
    for task, by_split in splits.items():
        for split, records in by_split.items():
            lang_of = (lambda r: r.lang) if task == "commits" else (lambda r: r.language)
            capped = _cap(list(deduplicate(records)), per_language, seed, lang_of)
            _write(out / task / f"{split}.jsonl.gz", capped)
            counts[f"{task}/{split}"] = len(capped)
    report["written"] = counts
    report["out"] = str(out)
    return report
