"""Code health of a few chosen commits: PyDriller's delta-maintainability and method-level changes.

This is the one place where PyDriller earns its cost (tens of milliseconds per commit, 8-15x a plain
``git show --numstat``; see ``bench/code_health.py``): for the handful of source commits a report
picks, lizard (PyDriller's method parser) reads every changed *shipped source* file before and after
the commit, and this module reports

- the Delta Maintainability Model (Di Biase et al., 2019) for unit size, unit complexity and unit
  interfacing: the share of the changed method volume (lines of code) that is low-risk code added or
  high-risk code removed. 1.0 = every changed line made the code easier to maintain, 0.0 = every
  changed line went into (or made) long, complex or many-parameter methods. PyDriller's risk
  thresholds apply (a method is low-risk with <= 15 lines, <= 5 cyclomatic complexity, <= 2
  parameters). The value is computed as PyDriller's ``Commit.dmm_*`` computes it (per-file delta risk
  profiles summed, then the good-change proportion; a test checks the numbers agree), but over shipped
  source files only: tests, docs, vendored, minified and generated files do not count. ``None`` when
  no such file is in a language lizard reads, or when the commit changes no method volume;
- the methods added, removed and changed in each of those files, with size, complexity and parameter
  count before/after, and whether each looks public (per-language rules in ``looks_public``); plus the
  files' summed method lines and complexity before/after. Anonymous functions count in the DMM volume
  but are not listed (lizard numbers them by position, so they have no stable name).

Callers cap the number of commits (``DEFAULT_MAX_COMMITS``; the window's source commits with the most
changed source lines are the ones worth it) and cache the results per commit:
``CodeHealth.to_dict``/``from_dict`` give versioned JSON (``CODE_HEALTH_VERSION``). ``window_health``
turns a window's results into one judgment with the commits, files and methods that drove it, so an
attention item can cite them.

PyDriller, GitPython and lizard are imported lazily, inside ``measure_code_health``: never when
``narrator.git`` is imported, never on the report's hot path. PyDriller's own ``Git``/``Repository``
classes are NOT used: opening a repository through them writes ``blame.markUnblamableLines`` into its
``.git/config``. Here a plain read-only GitPython ``Repo`` feeds PyDriller's ``Commit`` (diffs,
changed lines) and ``Method`` (risk thresholds); each blob is analysed once per call (``_Analyser``).
Merge commits have no PyDriller diff (PyDriller reports no files for them): pass the merged commits.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from narrator.errors import CacheError, RepositoryError

log = logging.getLogger(__name__)

CODE_HEALTH_VERSION = 1  # bump when the shape or the meaning of CodeHealth changes (part of the cache key)

# Measured cold (bench/code_health.py, 2 shared CPU cores): 50 source commits take 2-7 s on echo, composer,
# flask and guice (per-commit medians 29-84 ms, p90 95-325 ms, against 4-11 ms for `git show --numstat`),
# 200 take 9-15 s. 25 commits keep a cold report within ~1-3.5 s extra; cached commits cost nothing later.
DEFAULT_MAX_COMMITS = 25
MAX_FILE_BYTES = 400_000  # lizard takes seconds on larger files (mostly bundles); such files are listed, not read

# PyDriller's thresholds (pydriller.domain.commit.Method.*_LOW_RISK_THRESHOLD), repeated so the window
# judgment can name them without importing PyDriller; a test checks they still agree.
LOW_RISK_NLOC = 15
LOW_RISK_COMPLEXITY = 5
LOW_RISK_PARAMETERS = 2

# Window judgment (see ``window_health``); chosen on 200 source commits each of flask, composer, echo,
# guice, jekyll and lodash (month windows), so that a drop is the exception, not the norm of a project.
MIN_VOLUME = 60  # fewer changed method lines (good + bad DMM volume) than this is too little to judge
MIN_RISKY_GROWTH = 30  # a drop needs at least this many method lines added to long or complex methods
DROP_BELOW_BASELINE = 0.15  # with a baseline: dropped when the window's DMM is this much below the baseline's ...
DROP_MAX_DMM = 0.5  # ... and below this (half the change still good is no drop)
DROP_ABSOLUTE_DMM = 0.25  # without a usable baseline: dropped when less than a quarter of the change is good

_PROPERTIES = ("unit_size", "unit_complexity", "unit_interfacing")


# ---------------------------------------------------------------- plain data


@dataclass(frozen=True)
class MethodMetrics:
    """One method's size (lines of code without comments/blanks), cyclomatic complexity and parameters."""

    nloc: int
    complexity: int
    parameters: int

    @property
    def risky(self) -> tuple[str, ...]:
        """The DMM properties in which this method is high-risk (empty when low-risk in all three)."""
        out = []
        if self.nloc > LOW_RISK_NLOC:
            out.append("unit_size")
        if self.complexity > LOW_RISK_COMPLEXITY:
            out.append("unit_complexity")
        if self.parameters > LOW_RISK_PARAMETERS:
            out.append("unit_interfacing")
        return tuple(out)

    def to_list(self) -> list[int]:
        return [self.nloc, self.complexity, self.parameters]

    @classmethod
    def from_list(cls, data: Sequence[int] | None) -> "MethodMetrics | None":
        return None if data is None else cls(int(data[0]), int(data[1]), int(data[2]))


@dataclass(frozen=True)
class MethodChange:
    """A method added (``before`` is None), removed (``after`` is None) or changed in one file."""

    name: str  # qualified the way the language reads it: Flask.run, Outer.Inner.run, Gem::Package.build
    before: MethodMetrics | None
    after: MethodMetrics | None
    public: bool

    @property
    def change(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"

    @property
    def signature_changed(self) -> bool:
        return self.before is not None and self.after is not None and self.before.parameters != self.after.parameters

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "before": self.before.to_list() if self.before else None,
                "after": self.after.to_list() if self.after else None, "public": self.public}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MethodChange":
        return cls(name=str(data["name"]), before=MethodMetrics.from_list(data["before"]),
                   after=MethodMetrics.from_list(data["after"]), public=bool(data["public"]))


@dataclass(frozen=True)
class RiskDelta:
    """Change of low-risk and high-risk method volume (lines of code) for one DMM property."""

    low: int = 0
    high: int = 0

    @property
    def good(self) -> int:
        return max(self.low, 0) + max(-self.high, 0)

    @property
    def bad(self) -> int:
        return max(-self.low, 0) + max(self.high, 0)


def _proportion(delta: RiskDelta) -> float | None:
    """PyDriller's ``Commit._good_change_proportion``: good / (good + bad), None when nothing changed."""
    total = delta.good + delta.bad
    return None if total == 0 else delta.good / total


@dataclass(frozen=True)
class FileHealth:
    """One shipped source file of a commit, as lizard read it before and after."""

    path: str
    language: str
    change_type: str  # added, modified, deleted, renamed
    added_lines: int
    deleted_lines: int
    nloc_before: int  # summed over the file's methods
    nloc_after: int
    complexity_before: int  # summed cyclomatic complexity of the file's methods
    complexity_after: int
    risk: tuple[RiskDelta, RiskDelta, RiskDelta]  # unit size, unit complexity, unit interfacing
    methods: tuple[MethodChange, ...] = ()
    old_path: str | None = None

    @property
    def changed_lines(self) -> int:
        return self.added_lines + self.deleted_lines

    def dmm(self, prop: str) -> float | None:
        return _proportion(self.risk[_PROPERTIES.index(prop)])

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old_path": self.old_path, "language": self.language,
                "change_type": self.change_type, "lines": [self.added_lines, self.deleted_lines],
                "nloc": [self.nloc_before, self.nloc_after],
                "complexity": [self.complexity_before, self.complexity_after],
                "risk": [[r.low, r.high] for r in self.risk],
                "methods": [m.to_dict() for m in self.methods]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileHealth":
        risk = tuple(RiskDelta(int(low), int(high)) for low, high in data["risk"])
        if len(risk) != 3:
            raise ValueError("risk needs three properties")
        return cls(path=str(data["path"]), old_path=data.get("old_path"), language=str(data["language"]),
                   change_type=str(data["change_type"]), added_lines=int(data["lines"][0]),
                   deleted_lines=int(data["lines"][1]), nloc_before=int(data["nloc"][0]),
                   nloc_after=int(data["nloc"][1]), complexity_before=int(data["complexity"][0]),
                   complexity_after=int(data["complexity"][1]), risk=risk,  # type: ignore[arg-type]
                   methods=tuple(MethodChange.from_dict(m) for m in data["methods"]))


@dataclass(frozen=True)
class CodeHealth:
    """Delta-maintainability and method-level changes of one commit's shipped source files."""

    sha: str
    dmm_unit_size: float | None
    dmm_unit_complexity: float | None
    dmm_unit_interfacing: float | None
    files: tuple[FileHealth, ...] = ()
    other_files: int = 0  # files of the commit that are not shipped source in a language lizard reads
    unread: tuple[str, ...] = ()  # shipped source files not analysed (too large, or lizard failed on them)

    @property
    def dmm(self) -> float | None:
        """Mean of the available DMM properties (None when none is available)."""
        values = [v for v in (self.dmm_unit_size, self.dmm_unit_complexity, self.dmm_unit_interfacing)
                  if v is not None]
        return sum(values) / len(values) if values else None

    @property
    def changed_lines(self) -> int:
        """Added + deleted lines of the analysed shipped source files."""
        return sum(f.changed_lines for f in self.files)

    def methods(self, change: str | None = None) -> list[tuple[str, MethodChange]]:
        """(file path, method) pairs, optionally only ``added``, ``removed`` or ``changed`` ones."""
        return [(f.path, m) for f in self.files for m in f.methods if change is None or m.change == change]

    def to_dict(self) -> dict[str, Any]:
        return {"v": CODE_HEALTH_VERSION, "sha": self.sha,
                "dmm": [self.dmm_unit_size, self.dmm_unit_complexity, self.dmm_unit_interfacing],
                "files": [f.to_dict() for f in self.files], "other_files": self.other_files,
                "unread": list(self.unread)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CodeHealth":
        """Rebuild from ``to_dict`` output; CacheError for another version or a malformed entry
        (callers treat it as a cache miss and measure again)."""
        if not isinstance(data, Mapping) or data.get("v") != CODE_HEALTH_VERSION:
            found = data.get("v") if isinstance(data, Mapping) else type(data).__name__
            raise CacheError(f"cached code health has version {found!r}, this narrator writes "
                             f"{CODE_HEALTH_VERSION}; measure the commit again")
        try:
            size, complexity, interfacing = (None if v is None else float(v) for v in data["dmm"])
            return cls(sha=str(data["sha"]), dmm_unit_size=size, dmm_unit_complexity=complexity,
                       dmm_unit_interfacing=interfacing,
                       files=tuple(FileHealth.from_dict(f) for f in data["files"]),
                       other_files=int(data.get("other_files", 0)), unread=tuple(data.get("unread", ())))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CacheError(f"cached code health of {data.get('sha', '?')!s:.12} is malformed ({exc}); "
                             "measure the commit again") from None


# ---------------------------------------------------------------- names and visibility

_SCOPE_OPENERS = {
    "Python": re.compile(r"^(\s*)class\s+([A-Za-z_]\w*)"),
    "Ruby": re.compile(r"^(\s*)(?:class|module)\s+((?:[A-Z]\w*)(?:::[A-Z]\w*)*)(?!\s*<<)"),
    "JavaScript": re.compile(r"^(\s*)(?:export\s+(?:default\s+)?)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)"),
}
_GO_RECEIVER = re.compile(r"^\(\s*(?:\w+\s*)?\*?\s*([A-Za-z_]\w*)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _enclosing_scopes(language: str, lines: Sequence[str], start_line: int) -> list[str]:
    """Class/module names around the declaration at ``start_line`` (1-based), outermost first.

    By indentation: each line above with less indentation that opens a class (module) is a scope. Good
    enough for Python, Ruby and JavaScript classes written in the usual style.
    """
    opener = _SCOPE_OPENERS.get(language)
    if opener is None or not 0 < start_line <= len(lines):
        return []
    level = _indent(lines[start_line - 1])
    scopes: list[str] = []
    for i in range(start_line - 2, -1, -1):
        if level == 0:
            break
        line = lines[i]
        if not line.strip():
            continue
        indent = _indent(line)
        if indent >= level:
            continue
        stripped = line.strip()
        if stripped.startswith(("#", "//", "*", "/*")) or stripped[0] in ")]}":
            continue
        level = indent
        match = opener.match(line)
        if match:
            scopes.append(match.group(2))
    return scopes[::-1]


def qualified_method_name(language: str, name: str, long_name: str, lines: Sequence[str], start_line: int) -> str:
    """The name a reader of ``language`` would use for a lizard function: Flask.run, Outer.Inner.run,
    Foo.create, Gem::Package.build, Server.Run, Foo.bar."""
    if language == "Java":
        return long_name.split("(", 1)[0].strip().replace("::", ".")
    if language == "PHP":
        return name.replace("::", ".")
    if language == "Go":
        match = _GO_RECEIVER.match(long_name)
        return f"{match.group(1)}.{name}" if match and long_name.startswith("(") else name
    short = name
    if language == "JavaScript":
        short = re.sub(r"^(?:static\s+|async\s+|get\s+|set\s+|\*\s*)+", "", name)
    if language == "Ruby" and short.startswith("self."):
        short = short[5:]
    scopes = _enclosing_scopes(language, lines, start_line)
    if not scopes:
        return short
    if language == "Ruby":
        return "::".join(scopes) + "." + short
    return ".".join(scopes) + "." + short


_RUBY_VISIBILITY = re.compile(r"^\s*(private|protected|public)\s*(#.*)?$")


def looks_public(language: str, qualified: str, path: str, lines: Sequence[str], start_line: int) -> bool:
    """Whether a method looks like part of the file's public interface, by each language's idiom.

    Python: no ``_``-prefixed name part (dunders count as public) and no ``_``-prefixed module.
    Go: an exported (capitalised) name on an exported receiver, outside ``internal/``. Java: ``public``,
    ``protected`` or interface ``default``. PHP: not ``private``. JavaScript: no ``_``/``#`` prefix.
    Ruby: no ``_`` prefix, no ``private def``, not below a bare ``private``/``protected`` in its class.
    """
    short = re.split(r"[.:]+", qualified)[-1]
    decl = lines[start_line - 1] if 0 < start_line <= len(lines) else ""
    if language == "Python":
        parts = [p for p in path.split("/")[:-1]] + [path.rsplit("/", 1)[-1].rsplit(".", 1)[0]]
        if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts):
            return False
        return not any(p.startswith("_") and not (p.startswith("__") and p.endswith("__"))
                       for p in qualified.split("."))
    if language == "Go":
        if "/internal/" in f"/{path}":
            return False
        return all(p[:1].isupper() for p in qualified.split("."))
    if language == "Java":
        return bool(re.search(r"\b(public|protected|default)\b", decl))
    if language == "PHP":
        return not re.search(r"\bprivate\b", decl)
    if language == "JavaScript":
        return not short.startswith(("_", "#"))
    if language == "Ruby":
        if short.startswith("_") or re.match(r"^\s*(private|protected)\s+def\b", decl):
            return False
        level = _indent(decl)
        for i in range(start_line - 2, -1, -1):
            line = lines[i]
            if not line.strip():
                continue
            if _indent(line) < level and re.match(r"^\s*(class|module)\b", line):
                return True
            match = _RUBY_VISIBILITY.match(line)
            if match and _indent(line) == level:
                return match.group(1) == "public"
        return True
    return not short.startswith("_")


# ---------------------------------------------------------------- measuring


# Vendored, minified and generated paths are not the project's own code. The same path rules as
# ``narrator.prompts.skip_reason``, which git/ may not import (layers import downwards only); when those
# rules move into git/, use them here.
_NOT_SHIPPED = re.compile(
    r"(^|/)(vendor|_vendor|third_party|thirdparty|node_modules|bower_components|dist|generated|__generated__|gen)/"
    r"|\.min\.(js|css)$|\.map$|\.pb\.go$|_pb2(_grpc)?\.py$|\.generated\.\w+$|_gen\.go$|\.g\.dart$|\.designer\.cs$",
    re.IGNORECASE)
_GENERATED_MARK = re.compile(r"(Code generated .* DO NOT EDIT|@generated|auto-generated|autogenerated)", re.I)


def _is_shipped_source(path: str) -> tuple[bool, str | None]:
    from narrator.git.classify import is_source_path
    from narrator.git.walker import language_of

    language = language_of(path)
    return (is_source_path(path, language) and not _NOT_SHIPPED.search(path)), language


_ANONYMOUS = re.compile(r"^\(?anonymous|^lambda$|^<lambda>$")
_JAVA_ANNOTATION_START = re.compile(r"@(?!interface\b)[A-Za-z_][\w.]*")


def mask_java_annotations(source: str) -> str:
    """Java source with every annotation (``@Name`` and its ``(...)`` arguments) blanked out, lines kept.

    Why: lizard takes ``@SuppressWarnings("x")`` on the line above a method for the method itself
    (named ``SuppressWarnings``, with the wrong start line). Annotations carry no size, complexity or
    parameters, so blanking them changes no metric; strings, characters and comments are left alone.
    """
    out = list(source)
    i, n = 0, len(source)

    def skip_string(j: int) -> int:
        """Index after the string or char literal starting at ``j``."""
        if source.startswith('"""', j):
            end = source.find('"""', j + 3)
            return n if end < 0 else end + 3
        quote = source[j]
        j += 1
        while j < n and source[j] != quote and source[j] != "\n":
            j += 2 if source[j] == "\\" else 1
        return j + 1

    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "\"'":
            i = skip_string(i)
        elif c == "@" and (match := _JAVA_ANNOTATION_START.match(source, i)):
            j = match.end()
            k = j
            while k < n and source[k] in " \t\r\n":
                k += 1
            if k < n and source[k] == "(":
                depth, k = 0, k
                while k < n:
                    if source[k] in "\"'":
                        k = skip_string(k)
                        continue
                    depth += source[k] == "("
                    depth -= source[k] == ")"
                    k += 1
                    if depth == 0:
                        break
                j = k
            for p in range(i, j):
                if out[p] != "\n":
                    out[p] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def lizard_functions(lizard: Any, filename: str, text: str) -> list[Any]:
    """lizard's functions of one file (Java annotations masked first, see ``mask_java_annotations``)."""
    if filename.lower().endswith(".java"):
        text = mask_java_annotations(text)
    return list(lizard.analyze_file.analyze_source_code(filename, text).function_list)


def _metrics(method: Any) -> MethodMetrics:
    return MethodMetrics(int(method.nloc), int(method.complexity), len(method.parameters))


@dataclass(frozen=True)
class _Analysis:
    """One blob as lizard read it: PyDriller ``Method`` objects and the text lines they point into."""

    methods: tuple[Any, ...]
    lines: tuple[str, ...]
    generated: bool = False  # marked as generated near its top (``Code generated ... DO NOT EDIT``)


class _Analyser:
    """Reads and analyses each blob once per ``measure_code_health`` call.

    Why not ``ModifiedFile.methods``/``methods_before``/``changed_methods``: they read each blob
    several times and run lizard again for every property asked; and within a window the file after
    one commit is the file before the next one (35-45% of the blobs repeat on flask and composer).
    The results are the same: lizard on the blob decoded as PyDriller decodes it, wrapped in
    PyDriller's ``Method``; changed methods found from ``ModifiedFile.diff_parsed`` as PyDriller does.
    """

    def __init__(self) -> None:
        import lizard
        from pydriller.domain.commit import Method

        self._lizard = lizard
        self._method = Method
        self._memo: dict[tuple[str, str], _Analysis] = {}

    def analyse(self, blob: Any, filename: str) -> _Analysis:
        if blob is None:
            return _Analysis((), ())
        key = (blob.hexsha, filename.rsplit(".", 1)[-1])
        found = self._memo.get(key)
        if found is None:
            text = blob.data_stream.read().decode("utf-8", "ignore")  # PyDriller's decoding
            functions = lizard_functions(self._lizard, filename, text)
            found = _Analysis(tuple(self._method(f) for f in functions), tuple(text.splitlines()),
                              generated=_GENERATED_MARK.search(text[:2000]) is not None)
            self._memo[key] = found
        return found


def _file_health(modified: Any, path: str, language: str, before_a: _Analysis, after_a: _Analysis) -> FileHealth:
    """One PyDriller ``ModifiedFile`` and the analyses of its two blobs -> FileHealth."""
    from pydriller.domain.commit import DMMProperty

    before, after = before_a.methods, after_a.methods
    before_lines, after_lines = before_a.lines, after_a.lines
    risk = []
    for prop in (DMMProperty.UNIT_SIZE, DMMProperty.UNIT_COMPLEXITY, DMMProperty.UNIT_INTERFACING):
        low = sum(m.nloc for m in after if m.is_low_risk(prop)) - sum(m.nloc for m in before if m.is_low_risk(prop))
        high = (sum(m.nloc for m in after if not m.is_low_risk(prop))
                - sum(m.nloc for m in before if not m.is_low_risk(prop)))
        risk.append(RiskDelta(low, high))

    parsed = modified.diff_parsed
    added_at = [n for n, _ in parsed["added"]]
    deleted_at = [n for n, _ in parsed["deleted"]]

    def touched(m: Any, at: Sequence[int]) -> bool:
        return any(m.start_line <= n <= m.end_line for n in at)

    def named(methods: Iterable[Any], lines: Sequence[str]) -> dict[str, Any]:
        pairs = [(qualified_method_name(language, m.name, m.long_name, lines, m.start_line), m) for m in methods
                 if not _ANONYMOUS.match(m.name.rsplit(".", 1)[-1].rsplit("::", 1)[-1])]
        # (lizard numbers anonymous functions by position: no stable name to report, so they are left out)
        counts: dict[str, int] = {}
        for q, _ in pairs:
            counts[q] = counts.get(q, 0) + 1
        out: dict[str, Any] = {}
        for q, m in pairs:
            if counts[q] > 1:  # overloads: told apart by parameter count, then by lizard's long name
                q = f"{q}/{len(m.parameters)}" if f"{q}/{len(m.parameters)}" not in out else f"{q}/{m.long_name}"
            out.setdefault(q, m)
        return out

    new = named(after, after_lines)
    old = named(before, before_lines)
    methods: list[MethodChange] = []
    for qualified, m in new.items():
        if qualified not in old:
            methods.append(MethodChange(qualified, None, _metrics(m),
                                        looks_public(language, qualified, path, after_lines, m.start_line)))
        elif touched(m, added_at) or touched(old[qualified], deleted_at):
            methods.append(MethodChange(qualified, _metrics(old[qualified]), _metrics(m),
                                        looks_public(language, qualified, path, after_lines, m.start_line)))
    for qualified, m in old.items():
        if qualified not in new:
            methods.append(MethodChange(qualified, _metrics(m), None,
                                        looks_public(language, qualified, modified.old_path or path,
                                                     before_lines, m.start_line)))
    methods.sort(key=lambda c: (c.change, c.name))
    change_type = modified.change_type.name.lower()
    return FileHealth(
        path=path, old_path=modified.old_path if modified.old_path not in (None, path) else None,
        language=language, change_type={"add": "added", "delete": "deleted", "modify": "modified",
                                        "rename": "renamed"}.get(change_type, change_type),
        added_lines=int(modified.added_lines), deleted_lines=int(modified.deleted_lines),
        nloc_before=sum(m.nloc for m in before), nloc_after=sum(m.nloc for m in after),
        complexity_before=sum(m.complexity for m in before), complexity_after=sum(m.complexity for m in after),
        risk=tuple(risk), methods=tuple(methods))  # type: ignore[arg-type]


def _commit_health(sha: str, commit: Any, analyser: _Analyser) -> CodeHealth:
    files: list[FileHealth] = []
    unread: list[str] = []
    other = 0
    for modified in commit.modified_files:
        path = modified.new_path or modified.old_path or ""
        shipped, language = _is_shipped_source(path)
        if not shipped or not language or not modified.language_supported:
            other += 1
            continue
        diff = modified._c_diff  # GitPython's Diff: the two blobs (PyDriller exposes only their contents)
        a_blob, b_blob = diff.a_blob, diff.b_blob
        if any(blob is not None and blob.size > MAX_FILE_BYTES for blob in (a_blob, b_blob)):
            log.info("code health: %s in %s is larger than %d bytes, not analysed", path, sha[:12], MAX_FILE_BYTES)
            unread.append(path)
            continue
        try:
            before = analyser.analyse(a_blob, modified.old_path or path)
            after = analyser.analyse(b_blob, path)
            if after.generated or (b_blob is None and before.generated):
                other += 1  # generated code is not the project's own
                continue
            files.append(_file_health(modified, path, language, before, after))
        except (RecursionError, IndexError, KeyError, ValueError, AttributeError, TypeError) as exc:
            log.warning("code health: lizard could not read %s in %s (%s); left out", path, sha[:12], exc)
            unread.append(path)
    totals = [RiskDelta(sum(f.risk[i].low for f in files), sum(f.risk[i].high for f in files)) for i in range(3)]
    size, complexity, interfacing = (_proportion(t) if files else None for t in totals)
    return CodeHealth(sha=sha, dmm_unit_size=size, dmm_unit_complexity=complexity,
                      dmm_unit_interfacing=interfacing, files=tuple(files), other_files=other,
                      unread=tuple(unread))


def measure_code_health(repo_path: str | Path, shas: Sequence[str],
                        on_commit: Callable[[CodeHealth], None] | None = None) -> list[CodeHealth]:
    """CodeHealth of each commit in ``shas`` (same order), read-only, through PyDriller.

    ``repo_path`` is a work tree or a bare repository. Costs tens of milliseconds per commit (lizard),
    more for large files; callers cap the count (``DEFAULT_MAX_COMMITS``) and cache the results per
    commit. ``on_commit`` is called after each commit (progress, timing).
    """
    if not shas:
        return []
    try:
        import git  # GitPython
        from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError
        from gitdb.exc import BadName, BadObject
        from pydriller.domain.commit import Commit
        from pydriller.utils.conf import Conf
    except ImportError as exc:
        raise RepositoryError(f"code health needs PyDriller and GitPython ({exc}); "
                              "reinstall narrator: pip install narrator") from None
    path = str(repo_path)
    try:
        repo = git.Repo(path)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise RepositoryError(f"{path} is not a git repository; code health needs one") from None
    conf = Conf({"path_to_repo": path})
    analyser = _Analyser()
    out: list[CodeHealth] = []
    try:
        for sha in shas:
            try:
                commit = Commit(repo.commit(sha), conf)
            except (BadName, BadObject, ValueError):
                raise RepositoryError(f"commit {sha} is not in {path}; was the history rewritten?") from None
            try:
                out.append(_commit_health(sha, commit, analyser))
                if on_commit is not None:
                    on_commit(out[-1])
            except GitCommandError as exc:
                detail = (exc.stderr or "").strip().splitlines()
                raise RepositoryError(f"git failed while measuring code health of {sha[:12]} in {path}: "
                                      f"{detail[-1] if detail else exc.status}") from None
            except (BadName, BadObject) as exc:
                raise RepositoryError(f"an object of commit {sha[:12]} is missing in {path} ({exc}); "
                                      "is it a partial or shallow clone?") from None
    finally:
        repo.close()
    return out


# ---------------------------------------------------------------- the window's judgment


@dataclass(frozen=True)
class HealthDriver:
    """A commit that pulled the window's code health down, with the file and methods that show it."""

    sha: str
    file: str
    dmm: float | None  # the commit's mean DMM
    risky_growth: int  # method lines this commit added to long or complex methods
    methods: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha": self.sha, "file": self.file, "dmm": None if self.dmm is None else round(self.dmm, 3),
                "risky_growth": self.risky_growth, "methods": list(self.methods), "reason": self.reason}


@dataclass(frozen=True)
class WindowHealth:
    """The code health of a window's measured commits, and whether it dropped (see ``window_health``)."""

    measured_commits: int  # commits whose shipped source changed method volume
    unmeasured_commits: int
    volume: int  # changed method lines (DMM good + bad volume; unit size and unit complexity averaged)
    risky_growth: int  # method lines added to long or complex methods (high-risk volume that grew)
    dmm: float | None  # good / (good + bad) over the window, unit size and unit complexity pooled
    dmm_by_property: dict[str, float | None] = field(default_factory=dict)
    baseline_dmm: float | None = None
    dropped: bool = False
    reason: str = ""
    drivers: tuple[HealthDriver, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {"v": CODE_HEALTH_VERSION, "measured_commits": self.measured_commits,
                "unmeasured_commits": self.unmeasured_commits, "volume": self.volume,
                "risky_growth": self.risky_growth, "dmm": r(self.dmm),
                "dmm_by_property": {k: r(v) for k, v in self.dmm_by_property.items()},
                "baseline_dmm": r(self.baseline_dmm), "dropped": self.dropped, "reason": self.reason,
                "drivers": [d.to_dict() for d in self.drivers]}


_JUDGED = (0, 1)  # unit size and unit complexity; see window_health


def _volumes(files: Iterable[FileHealth], props: Sequence[int] = _JUDGED) -> tuple[int, int]:
    """(good, bad) DMM volume of these files, summed over ``props``."""
    good = bad = 0
    for f in files:
        for i in props:
            good += f.risk[i].good
            bad += f.risk[i].bad
    return good, bad


def _growth(files: Iterable[FileHealth]) -> int:
    """Method lines added to long or complex methods (unit size and unit complexity averaged)."""
    return sum(max(f.risk[i].high, 0) for f in files for i in _JUDGED) // len(_JUDGED)


def _grew(m: MethodChange) -> bool:
    """A method that is long or complex after the commit and got longer or more complex (or is new)."""
    a, b = m.after, m.before
    return (a is not None and bool({"unit_size", "unit_complexity"} & set(a.risky))
            and (b is None or a.nloc > b.nloc or a.complexity > b.complexity))


def _describe(m: MethodChange) -> str:
    a, b = m.after, m.before
    assert a is not None
    if b is None:
        return f"new {m.name} has {a.nloc} lines and complexity {a.complexity}"
    text = f"{m.name} grew from {b.nloc} to {a.nloc} lines" if a.nloc != b.nloc else f"{m.name} ({a.nloc} lines)"
    return text + (f", complexity {b.complexity} to {a.complexity}" if a.complexity != b.complexity else "")


def _driver(health: CodeHealth) -> HealthDriver:
    """The file with the most risky growth, and its methods that grew long or complex."""
    worst = max(health.files, key=lambda f: (_growth([f]), f.changed_lines, f.path))
    grew = sorted((m for m in worst.methods if _grew(m)),
                  key=lambda m: (-(m.after.complexity - (m.before.complexity if m.before else 0)),  # type: ignore[union-attr]
                                 -(m.after.nloc - (m.before.nloc if m.before else 0)), m.name))  # type: ignore[union-attr]
    reason = "; ".join(_describe(m) for m in grew[:3])
    if not reason:
        reason = "its growth is in methods that were already long or complex, or in anonymous functions"
    return HealthDriver(sha=health.sha, file=worst.path, dmm=health.dmm, risky_growth=_growth(health.files),
                        methods=tuple(m.name for m in grew[:3]), reason=reason)


def window_health(healths: Iterable[CodeHealth], baseline: Iterable[CodeHealth] | None = None,
                  max_drivers: int = 3) -> WindowHealth:
    """Did the window's code health drop, and which commits, files and methods drove it?

    In DMM terms, over the whole window: every changed line of method code is *good* (low-risk code
    added, high-risk code removed) or *bad* (high-risk code added, low-risk code removed or pushed over
    a threshold). The window's DMM is good / (good + bad) with unit size and unit complexity pooled, so
    each commit weighs with its changed method lines (unit interfacing is reported, not judged: its
    changes show up as signature changes of methods). The window *dropped* when its volume is at least
    ``MIN_VOLUME`` lines, at least ``MIN_RISKY_GROWTH`` method lines went into long or complex methods
    (so deleting code, which DMM counts as bad when the deleted code was simple, never is a drop by
    itself), and

    - with a ``baseline`` (the project's earlier measured commits, e.g. the previous period) of at least
      ``MIN_VOLUME`` lines: the window's DMM is below ``DROP_MAX_DMM`` and ``DROP_BELOW_BASELINE`` or
      more below the baseline's (a project whose normal change grows long methods is judged against
      its own normal);
    - otherwise: the window's DMM is below ``DROP_ABSOLUTE_DMM``.

    Drivers are the commits with the most risky growth, each with its worst file and the methods that
    grew long or complex, so an attention item can cite commit, file and method.
    """
    healths = list(healths)
    measured = [h for h in healths if h.dmm is not None]
    files = [f for h in measured for f in h.files]
    good, bad = _volumes(files)
    dmm = good / (good + bad) if good + bad else None
    by_prop: dict[str, float | None] = {}
    for i, prop in enumerate(_PROPERTIES):
        g, b = _volumes(files, (i,))
        by_prop[prop] = g / (g + b) if g + b else None
    volume = (good + bad) // len(_JUDGED)
    growth = _growth(files)
    base = None
    if baseline is not None:
        bg, bb = _volumes(f for h in baseline if h.dmm is not None for f in h.files)
        if (bg + bb) // len(_JUDGED) >= MIN_VOLUME:
            base = bg / (bg + bb)
    dropped = False
    if dmm is None or volume < MIN_VOLUME:
        reason = f"too little changed method code to judge ({volume} lines in {len(measured)} commits)"
    elif growth >= MIN_RISKY_GROWTH and (
            (base is not None and dmm < DROP_MAX_DMM and dmm <= base - DROP_BELOW_BASELINE)
            or (base is None and dmm < DROP_ABSOLUTE_DMM)):
        dropped = True
        reason = (f"{growth} lines went into long or complex methods; {round(100 * (1 - dmm))}% of the changed "
                  f"method code made maintenance harder (delta maintainability {dmm:.2f}"
                  + (f", against {base:.2f} before)" if base is not None else ")"))
    else:
        reason = f"delta maintainability {dmm:.2f}" + (f" (before: {base:.2f})" if base is not None else "")
    drivers: tuple[HealthDriver, ...] = ()
    if dropped:
        ranked = sorted((h for h in measured if _growth(h.files) > 0), key=lambda h: (-_growth(h.files), h.sha))
        drivers = tuple(_driver(h) for h in ranked[:max_drivers])
    return WindowHealth(measured_commits=len(measured), unmeasured_commits=len(healths) - len(measured),
                        volume=volume, risky_growth=growth, dmm=dmm, dmm_by_property=by_prop,
                        baseline_dmm=base, dropped=dropped, reason=reason, drivers=drivers)
