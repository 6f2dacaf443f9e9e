"""Documented functions of Java, JavaScript, PHP, Ruby and Go source files, as CodeSearchNet-style records.

The rules of ``../shared/data/README.md`` ("Function pairs"), with lizard (the method parser PyDriller
uses) for the function boundaries instead of tree-sitter, and one small doc-comment reader per language:

- Java, JavaScript, PHP: a ``/** ... */`` block directly above the declaration (above its annotations or
  attributes), at most one blank line between; a declaration without a body (abstract or interface
  methods) is skipped, so are Java constructors and JavaScript arrow functions without a block body;
- Ruby: consecutive ``#`` lines directly above ``def`` (or ``private def``); a block opened by RDoc's
  ``##`` marker may be followed by one blank line;
- Go: consecutive ``//`` lines directly above ``func`` (``//go:`` and lint directives are not doc).

``code`` is the declaration from its first annotation to its last line, dedented, without the doc
comment; names are qualified as each language reads them (``Outer.Inner.run``, ``Foo.create``,
``Gem::Package.build``, ``Server.Run``, ``Cart.add``). Summaries and the keep/drop rules are the shared
ones (``finetune.data.filters``): the caller applies ``function_rejection``. Python stays with ``ast``
in ``finetune.data.mine``; the path and generated-file rules here cover all six languages.

Differences from the shared data (tree-sitter) worth knowing: lizard does not see a few JavaScript
forms (``key: async function`` in object literals), and nesting is read from indentation for
JavaScript classes and Ruby modules, so an oddly indented file can get shorter qualified names.
"""

from __future__ import annotations

import logging
import re
import textwrap
from typing import Sequence

from finetune.data.filters import COMMIT_EXTENSIONS, summarize_docstring
from finetune.data.schema import FunctionRecord

log = logging.getLogger(__name__)

LANGUAGES = ("Java", "JavaScript", "PHP", "Ruby", "Go")  # what ``extract_functions`` reads (Python: mine.py)

SKIP_DIRS = frozenset({
    "test", "tests", "spec", "specs", "__tests__", "testing", "testdata", "test_data", "fixtures", "fixture",
    "vendor", "vendors", "_vendor", "third_party", "thirdparty", "node_modules", "dist", "build", "generated",
    "gen", "examples", "example", "docs", "doc", "benchmark", "benchmarks", "bench", "perf", "typings", "e2e",
    "site", "bower_components", "tmp", "coverage"})
_SKIP_FILE = re.compile(r"(^test_.*\.py|.*_test\.py|.*_test\.go|.*Tests?\.java|.*\.test\.js|.*\.spec\.js|"
                        r".*_spec\.rb|.*_test\.rb|.*Test\.php|.*\.min\.js|conftest\.py|.*\.pb\.go|.*_gen\.go)$")
_GENERATED = re.compile(r"DO NOT EDIT")  # "Code generated ... DO NOT EDIT" and its variants
_EXT_LANGUAGE = {ext: lang for lang, exts in COMMIT_EXTENSIONS.items() for ext in exts}
MAX_SOURCE_CHARS = 1_000_000  # lizard needs seconds on bundles this large; they are never hand-written source


def function_language(path: str) -> str | None:
    """The language whose functions ``mine`` extracts from this path (None for other files)."""
    lower = path.lower()
    for ext, language in _EXT_LANGUAGE.items():
        if lower.endswith(ext):
            return language
    return None


def is_skipped_path(path: str) -> bool:
    """Tests, vendored, generated, example and documentation paths (the shared data's list)."""
    parts = path.split("/")
    return any(p.lower() in SKIP_DIRS for p in parts[:-1]) or _SKIP_FILE.match(parts[-1]) is not None


def is_generated(source: str) -> bool:
    """A file marked as generated near its top (``Code generated ... DO NOT EDIT``)."""
    return _GENERATED.search(source[:2000]) is not None


# ---------------------------------------------------------------- doc comments

_JAVA_ANNOTATION = re.compile(r"^\s*@(?!interface\b)[\w.]+")
_PHP_ATTRIBUTE = re.compile(r"^\s*#\[")
_GO_DIRECTIVE = re.compile(r"^//(go:|nolint|lint:|export |line |extern |\+build)")
_RUBY_MAGIC = re.compile(r"^#\s*(frozen_string_literal|encoding|coding|warn_indent|typed|shareable_constant_value)\s*:"
                         r"|^#\s*-\*-|^#!|^#\s*rubocop:")


def _declaration_start(language: str, lines: Sequence[str], start: int) -> int:
    """0-based index of the declaration's first line: above Java annotations and PHP attributes."""
    pattern = _JAVA_ANNOTATION if language == "Java" else _PHP_ATTRIBUTE if language == "PHP" else None
    if pattern is None:
        return start
    while start > 0 and pattern.match(lines[start - 1]):
        start -= 1
    return start


def _block_doc(lines: Sequence[str], start: int) -> str | None:
    """The ``/** */`` block ending directly above line ``start`` (one blank line allowed), cleaned."""
    i = start - 1
    if i >= 0 and not lines[i].strip():
        i -= 1
    if i < 0 or not lines[i].rstrip().endswith("*/"):
        return None
    end = i
    while i >= 0 and "/*" not in lines[i]:
        i -= 1
    if i < 0:
        return None
    opening = lines[i].strip()
    if not opening.startswith("/**") or opening.startswith("/**/"):
        return None
    text = "\n".join(line.strip() for line in lines[i:end + 1])
    text = text[3:]  # "/**"
    text = text[: text.rfind("*/")]
    out = []
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("*"):
            s = s[1:]
            if s.startswith(" "):
                s = s[1:]
        out.append(s.rstrip())
    return "\n".join(out).strip("\n").strip() or None


def _line_doc(lines: Sequence[str], start: int, marker: str, skip: re.Pattern[str]) -> tuple[list[str], int]:
    """Consecutive comment lines (starting with ``marker``) directly above line ``start``, top first,
    and the index of the first of them."""
    out: list[str] = []
    i = start - 1
    while i >= 0 and lines[i].lstrip().startswith(marker):
        out.append(lines[i].strip())
        i -= 1
    return [line for line in reversed(out) if not skip.match(line)], i + 1


def _ruby_doc(lines: Sequence[str], start: int) -> str | None:
    block, first = _line_doc(lines, start, "#", _RUBY_MAGIC)
    if not block and start >= 2 and not lines[start - 1].strip():
        above, _ = _line_doc(lines, start - 1, "#", _RUBY_MAGIC)  # RDoc "##" block, then one blank line
        if above and above[0].strip() == "##":
            block = above
    if block and block[0].strip() == "##":
        block = block[1:]
    text = "\n".join(re.sub(r"^#+ ?", "", line).rstrip() for line in block)
    return text.strip() or None


def _go_doc(lines: Sequence[str], start: int) -> str | None:
    block, _ = _line_doc(lines, start, "//", _GO_DIRECTIVE)
    text = "\n".join(re.sub(r"^// ?", "", line).rstrip() for line in block)
    return text.strip() or None


def doc_comment(language: str, lines: Sequence[str], start: int) -> str | None:
    """The documentation attached to the declaration whose first line is ``lines[start]``, or None."""
    if language in ("Java", "JavaScript", "PHP"):
        return _block_doc(lines, start)
    if language == "Ruby":
        return _ruby_doc(lines, start)
    if language == "Go":
        return _go_doc(lines, start)
    raise ValueError(f"no doc-comment reader for {language}")


# ---------------------------------------------------------------- extraction

_ANONYMOUS = re.compile(r"^\(?anonymous|^function$|^\W*$")
_ARROW_WITHOUT_BLOCK = re.compile(r"=>\s*(?!\s*\{)\S")


def _has_body(language: str, code: str) -> bool:
    if language == "Ruby":
        return True
    head, brace, _ = code.partition("{")
    if not brace:
        return False  # abstract / interface method, or an expression
    if language == "JavaScript" and _ARROW_WITHOUT_BLOCK.search(head):
        return False  # arrow function with an expression body
    return True


def extract_functions(source: str, path: str, repo: str, commit: str = "",
                      language: str | None = None) -> list[FunctionRecord]:
    """Documented functions and methods of one Java, JavaScript, PHP, Ruby or Go file (unfiltered:
    the caller applies ``function_rejection``)."""
    from narrator.git.code_health import lizard_functions, qualified_method_name

    language = language or function_language(path)
    if language not in LANGUAGES:
        raise ValueError(f"extract_functions reads {', '.join(LANGUAGES)}, not {language} ({path})")
    if len(source) > MAX_SOURCE_CHARS:
        return []
    import lizard

    try:
        functions = lizard_functions(lizard, path, source)
    except (RecursionError, IndexError, KeyError, ValueError, AttributeError, TypeError) as exc:
        log.warning("lizard could not read %s (%s); its functions are left out", path, exc)
        return []
    lines = source.splitlines()
    out: list[FunctionRecord] = []
    for fn in functions:
        short = re.split(r"::|\.", fn.name)[-1]
        if _ANONYMOUS.match(short) or not 0 < fn.start_line <= fn.end_line <= len(lines):
            continue
        start = _declaration_start(language, lines, fn.start_line - 1)
        doc = doc_comment(language, lines, start)
        if not doc:
            continue
        name = qualified_method_name(language, fn.name, fn.long_name, lines, fn.start_line)
        if language == "Java":
            parts = name.split(".")
            if len(parts) >= 2 and parts[-1] == parts[-2]:
                continue  # constructor (not extracted, as in the shared data)
        body = list(lines[start:fn.end_line])
        if language == "Ruby":
            first = fn.start_line - 1 - start
            body[first] = re.sub(r"^(\s*)(?:private|protected|public)\s+(?=def\b)", r"\1", body[first])
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if not _has_body(language, code):
            continue
        out.append(FunctionRecord(repository_name=repo, func_path_in_repository=path, func_name=name,
                                  language=language, code=code, docstring=doc,
                                  summary=summarize_docstring(doc, language), commit=commit))
    return out
