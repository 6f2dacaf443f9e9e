"""``narrate explain PATH[:SYMBOL] [--rev REV]``: a plain-English summary of a function, class or file.

Finds the code at a revision (read-only, through git), cuts out the named symbol (Python with ``ast``;
other languages with definition patterns plus brace or indentation extents), and asks the engine for a
one-sentence summary (the code-summarization skill the adapter was trained on). Engines without that
skill, and model answers the guard rejects, get a factual summary built from the code's own docstring
or leading comment instead.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narrator.engines.base import CodeExplainer
from narrator.engines.redact import is_secrets_file, is_secrets_text, redact
from narrator.errors import UsageError
from narrator.git.text import clean_text, one_line
from narrator.git.walker import GitDiffs, Repository, language_of

MAX_UNIT_LINES = 400


class SymbolNotFoundError(UsageError):
    """The named function or class is not in the file at that revision."""


@dataclass(frozen=True)
class CodeUnit:
    """A piece of code to explain: a function, class, method, or a whole file."""

    path: str
    name: str | None
    kind: str  # "function", "method", "class", "file", "definition"
    language: str
    code: str
    start_line: int
    end_line: int
    doc: str = ""  # its docstring or leading comment, first sentence

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1


@dataclass(frozen=True)
class Explanation:
    unit: CodeUnit
    rev: str
    text: str
    source: str  # "model" or "heuristic"
    engine: str
    fallback_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Code, its docstrings and file names are untrusted text: inert in JSON as everywhere else.
        return {
            "path": one_line(self.unit.path), "symbol": one_line(self.unit.name) if self.unit.name else None,
            "kind": self.unit.kind, "language": self.unit.language, "start_line": self.unit.start_line,
            "end_line": self.unit.end_line, "rev": one_line(self.rev), "text": clean_text(self.text),
            "source": self.source, "engine": one_line(self.engine),
            "fallback_reason": one_line(self.fallback_reason) if self.fallback_reason else None,
        }


def parse_target(target: str) -> tuple[str, str | None]:
    """``path/file.py:Class.method`` -> (``path/file.py``, ``Class.method``); no colon -> whole file."""
    if not target:
        raise UsageError("nothing to explain: give PATH or PATH:SYMBOL")
    path, sep, symbol = target.rpartition(":")
    if not sep or not path or re.fullmatch(r"[A-Za-z]", path) or "/" in symbol or "\\" in symbol:
        return target, None  # no symbol (or a Windows drive letter)
    if not re.fullmatch(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*", symbol):
        raise UsageError(f"'{symbol}' is not a function or class name; use PATH:NAME or PATH:Class.method")
    return path, symbol


# -- finding the code -------------------------------------------------------------------------------


def _first_sentence(text: str) -> str:
    text = one_line(text or "")
    if not text:
        return ""
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:200]


def find_python(source: str, path: str, symbol: str | None) -> CodeUnit:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return find_generic(source, path, symbol, "Python")
    lines = source.splitlines()
    if symbol is None:
        return CodeUnit(path, None, "file", "Python", source, 1, max(1, len(lines)),
                        _first_sentence(ast.get_docstring(tree) or ""))
    parts = re.split(r"\.|::", symbol)
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def children(node: ast.AST) -> list[ast.AST]:
        return [n for n in getattr(node, "body", []) if isinstance(n, defs)]

    found: ast.AST | None = None
    scope: list[ast.AST] = children(tree)
    for i, part in enumerate(parts):  # exact dotted path first
        match = _implementation([n for n in scope if getattr(n, "name", None) == part])
        if match is None:
            break
        if i == len(parts) - 1:
            found = match
        scope = children(match)
    if found is None:  # then any definition with that (last) name, outermost first
        found = _implementation([node for node in ast.walk(tree) if isinstance(node, defs) and node.name == parts[-1]])
    if found is None:
        raise SymbolNotFoundError(f"no function or class named '{symbol}' in {path}")
    start = min([found.lineno] + [d.lineno for d in getattr(found, "decorator_list", [])])
    end = getattr(found, "end_lineno", None) or found.lineno
    if isinstance(found, ast.ClassDef):
        kind = "class"
    elif len(parts) > 1 or _is_method(tree, found):
        kind = "method"
    else:
        kind = "function"
    code = "\n".join(lines[start - 1:end])
    return CodeUnit(path, symbol, kind, "Python", code, start, end, _first_sentence(ast.get_docstring(found) or ""))


def _is_overload(node: ast.AST) -> bool:
    """``@overload`` / ``@typing.overload`` / ``@t.overload``: a signature stub, not the code that runs."""
    for decorator in getattr(node, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "overload":
            return True
    return False


def _implementation(candidates: list[ast.AST]) -> ast.AST | None:
    """The first of same-named definitions that is not an ``@overload`` stub (the implementation follows its
    overloads; a property's getter comes before its setter); only stubs (a .pyi file): the first stub."""
    if not candidates:
        return None
    real = [n for n in candidates if not _is_overload(n)]
    return real[0] if real else candidates[0]


def _is_method(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and target in node.body:
            return True
    return False


_KEYWORDS = r"(?:def|function\*?|func|fn|fun|sub|proc|class|struct|interface|trait|enum|impl|module|type|object|record|protocol|macro|defmodule|defp?)"
_NOT_DEFINITION = re.compile(r"^\s*(?:return|if|for|while|switch|catch|else|elif|new|throw|await|yield|case|do)\b")


def _definition_patterns(name: str) -> list[re.Pattern[str]]:
    n = re.escape(name)
    return [
        re.compile(rf"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:(?:public|private|protected|internal|static|final|abstract|async|override|inline|open|unsafe|extern|const|virtual)\s+)*"
                   rf"{_KEYWORDS}\s+(?:\([^)]*\)\s*)?(?:[\w.]+(?:\.|::))?{n}\b"),
        re.compile(rf"^\s*(?:export\s+)?(?:const|let|var)\s+{n}\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\(|[\w$]+\s*=>)"),
        re.compile(rf"^\s*(?:async\s+)?{n}\s*[:=]\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>)"),
        re.compile(rf"^\s*(?:(?:public|private|protected|internal|static|final|abstract|async|override|virtual|inline|extern|const|unsigned|signed)\s+)*"
                   rf"[\w<>\[\],.*&:? ]*?\b{n}\s*\([^;]*$"),
        re.compile(rf"^\s*(?:async\s+)?{n}\s*\([^)]*\)\s*\{{"),  # JS/TS class methods
    ]


def _brace_extent(lines: list[str], start: int) -> int | None:
    """Index of the line closing the first ``{`` at or after ``start`` (strings and comments roughly skipped)."""
    depth = 0
    opened = False
    for i in range(start, len(lines)):
        line = re.sub(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`", "\"\"", lines[i])
        line = re.sub(r"//.*$|#.*$" if not line.lstrip().startswith("#include") else r"//.*$", "", line)
        for ch in line:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return i
        if not opened and i - start > 4:  # no brace soon after the header: not a brace language block
            return None
        if not opened and line.rstrip().endswith(";"):
            return None  # a declaration, not a definition
    return len(lines) - 1 if opened else None


def _indent_extent(lines: list[str], start: int) -> int:
    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    base = indent(lines[start])
    end = start
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if indent(line) > base:
            end = i
            continue
        if indent(line) == base and re.match(r"\s*(end\b|\}|\)|\])", line):
            end = i
        break
    return end


def _leading_comment(lines: list[str], start: int) -> str:
    comment: list[str] = []
    i = start - 1
    while i >= 0:
        stripped = lines[i].strip()
        if re.match(r"^(//+|#+(?!include|define|!)|--|;+|\*|/\*\*?|\*/)", stripped):
            text = re.sub(r"^(//+|#+|--|;+|/\*\*?|\*/|\*)\s?", "", stripped).strip()
            if text and not text.startswith("@"):
                comment.insert(0, text)
            i -= 1
            continue
        break
    return _first_sentence(" ".join(comment))


def find_generic(source: str, path: str, symbol: str | None, language: str) -> CodeUnit:
    lines = source.splitlines()
    if symbol is None:
        return CodeUnit(path, None, "file", language, source, 1, max(1, len(lines)), _leading_comment(lines, 0) or
                        _first_sentence(_file_header_comment(lines)))
    name = re.split(r"\.|::|#", symbol)[-1]
    patterns = _definition_patterns(name)
    for pattern in patterns:
        for i, line in enumerate(lines):
            if _NOT_DEFINITION.match(line) or not pattern.match(line):
                continue
            end = _brace_extent(lines, i)
            if end is None:
                end = _indent_extent(lines, i)
            end = min(end, i + MAX_UNIT_LINES - 1)
            code = "\n".join(lines[i:end + 1])
            kind = "class" if re.search(r"\b(class|struct|interface|trait|enum|record|object|module|impl)\s", line) \
                else "function"
            return CodeUnit(path, symbol, kind, language, code, i + 1, end + 1, _leading_comment(lines, i))
    raise SymbolNotFoundError(f"no definition of '{symbol}' found in {path} ({language})")


def _file_header_comment(lines: list[str]) -> str:
    block: list[str] = []
    for line in lines[:30]:
        stripped = line.strip()
        if not stripped and not block:
            continue
        if re.match(r"^(//+|#(?!!)|--|/\*|\*|\"\"\"|''')", stripped):
            block.append(re.sub(r"^(//+|#+|--|/\*+|\*+/?|\"\"\"|''')\s?", "", stripped))
            continue
        if stripped.startswith("#!"):
            continue
        break
    return " ".join(b for b in block if b)


def find_unit(source: str, path: str, symbol: str | None) -> CodeUnit:
    """The named symbol of ``source`` (or the whole file when ``symbol`` is None)."""
    language = language_of(path) or "text"
    if language == "Python" or path.endswith((".py", ".pyi")):
        return find_python(source, path, symbol)
    return find_generic(source, path, symbol, language)


# -- explaining -------------------------------------------------------------------------------------


def heuristic_summary(unit: CodeUnit) -> str:
    """A factual sentence from the code itself: what it is, where, how long, and its own description."""
    if unit.kind == "file":
        what = f"The {unit.language} file {unit.path}" if unit.language != "text" else f"The file {unit.path}"
        sentence = f"{what} ({unit.lines} lines)"
    else:
        sentence = f"The {unit.language} {unit.kind} {unit.name} in {unit.path} (lines {unit.start_line}-{unit.end_line})"
    if unit.doc:
        doc = unit.doc.rstrip(".!?")
        return f"{sentence}: {doc[:1].lower() + doc[1:] if not doc[:2].isupper() else doc}."
    return f"{sentence} has no description of its own."


def _repo_relative(repo: Repository, path: str) -> str:
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        try:
            return candidate.resolve().relative_to(Path(repo.root).resolve()).as_posix()
        except ValueError:
            if candidate.is_absolute():
                raise UsageError(f"{path} is outside the repository {repo.root}") from None
    return path.lstrip("./") if path.startswith("./") else path


def load_unit(repo: Repository, target: str, rev: str = "HEAD") -> tuple[CodeUnit, str]:
    """The code unit named by ``target`` at ``rev`` and the revision's full sha."""
    path, symbol = parse_target(target)
    rel = _repo_relative(repo, path)
    if is_secrets_file(rel):
        raise UsageError(f"{rel} holds secrets (.env, keys, credentials): narrator never sends it to an engine")
    sha = repo.resolve(rev)
    source = GitDiffs(repo).file_at(sha, rel)
    if "\0" in source[:8000]:
        raise UsageError(f"{rel} is a binary file at {rev}; explain works on source code")
    if is_secrets_text(source):
        raise UsageError(f"{rel} holds secrets (key or registry credentials): narrator never sends it to an engine")
    return find_unit(source, rel, symbol), sha


def explain(repo: Repository, target: str, rev: str = "HEAD", engine: Any = None) -> Explanation:
    """Summarize ``PATH[:SYMBOL]`` at ``rev`` with ``engine`` (the heuristic summary when it cannot)."""
    unit, _sha = load_unit(repo, target, rev)
    engine_name = getattr(engine, "name", "heuristic") if engine is not None else "heuristic"
    if not isinstance(engine, CodeExplainer):
        return Explanation(unit, rev, heuristic_summary(unit), "heuristic", engine_name)
    # Redacted here, for every engine (plugins included), not only inside the built-in ones.
    text, verdict = engine.explain_code(redact(unit.code, unit.path), unit.language, unit.name, unit.path)
    if text:
        return Explanation(unit, rev, text, "model", engine_name)
    return Explanation(unit, rev, heuristic_summary(unit), "heuristic", engine_name,
                       fallback_reason=verdict.reason or "model output rejected")
