"""Putting each commit in one category and one or more areas, with rules that are data.

Rules are tried in order and the first match wins: the user's ``classify.rules`` first, then
``DEFAULT_RULES``. A rule is a mapping with a ``category`` and any of these conditions (all must hold):

- ``revert = true``          the commit is a revert
- ``merge = true``           the commit is a merge
- ``cc_types = [...]``       Conventional Commits type (``feat``, ``fix(api)!:`` ...)
- ``cc_scopes = [...]``      Conventional Commits scope
- ``subject = "regex"``      searched in the subject (case-insensitive)
- ``all_paths = [globs]``    every changed file matches one of the globs
- ``any_path = [globs]``     at least one changed file matches

Areas come from the first matching glob of the ``areas`` config (glob -> area name), otherwise from the
top-level directory, or the package directory for ``src/<pkg>``, ``packages/<pkg>`` style layouts.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from narrator.errors import ConfigError
from narrator.evidence.paths import path_kind
from narrator.evidence.sharing import PATH_MEMO, shared
from narrator.git.facts import ChangeType, Classification, CommitFacts
from narrator.git.text import one_line
from narrator.safe_regex import GlobSet, compile_globs, compile_user_regex

_intern = sys.intern


_CC = re.compile(r"^(?P<type>[a-zA-Z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:\s*(?P<desc>.+)$")
_PREFIX = re.compile(r"^(?P<scope>[\w./-]{2,30}):\s+(?P<desc>\S.*)$")  # "pre-commit: Add codespell"

DOC_GLOBS = ["docs/**", "doc/**", "*.md", "**/*.md", "*.rst", "**/*.rst", "*.txt", "**/*.adoc", "CHANGES*",
             "CHANGELOG*", "HISTORY*", "NEWS*", "AUTHORS*", "LICENSE*", "COPYING*", "mkdocs.yml", "docs/*"]
TEST_GLOBS = ["tests/**", "test/**", "spec/**", "specs/**", "**/tests/**", "**/test/**", "**/__tests__/**",
              "**/spec/**", "**/test_*.py", "test_*.py", "**/*_test.py", "**/*_test.go", "*_test.go",
              "**/*.test.*", "**/*.spec.*", "**/*Test.java", "**/*Tests.java", "**/*Test.php", "**/*_spec.rb",
              "**/*_test.rb", "conftest.py", "**/conftest.py", "**/testdata/**", "**/fixtures/**",
              "**/*.feature", "**/step_definitions/**", "features/support/**"]
CI_GLOBS = [".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", ".travis.yml", "azure-pipelines.yml",
            "Jenkinsfile", ".buildkite/**", ".ci/**", "Makefile", "**/Makefile", "Dockerfile", "**/Dockerfile",
            "docker-compose*.yml", ".pre-commit-config.yaml", "tox.ini", "noxfile.py", ".editorconfig",
            ".gitignore", ".gitattributes", ".dockerignore", "*.cmake", "CMakeLists.txt", "**/CMakeLists.txt",
            ".readthedocs.y*ml", "codecov.yml", ".codecov.yml", ".coveragerc", ".flake8", "ruff.toml",
            ".ruff.toml", ".eslintrc*", ".prettierrc*", "setup.cfg", ".git-blame-ignore-revs", ".mailmap"]
DEPENDENCY_GLOBS = ["requirements*.txt", "**/requirements*.txt", "requirements/**", "package.json",
                    "**/package.json", "package-lock.json", "**/package-lock.json", "yarn.lock", "**/yarn.lock",
                    "pnpm-lock.yaml", "poetry.lock", "Pipfile", "Pipfile.lock", "Cargo.toml", "Cargo.lock",
                    "**/Cargo.toml", "go.mod", "go.sum", "**/go.mod", "**/go.sum", "Gemfile", "Gemfile.lock",
                    "*.gemspec", "composer.json", "composer.lock", "pom.xml", "**/pom.xml", "build.gradle*",
                    "uv.lock", "pdm.lock", "constraints*.txt", "**/constraints*.txt", "*.lock", "**/*.lock",
                    ".github/dependabot.yml", "renovate.json"]

# Conventional Commits types, plus the prefixes of NumPy/SciPy-style projects (BUG:, ENH:, MAINT:, TST:, ...).
DEFAULT_RULES: list[dict[str, Any]] = [
    {"name": "revert", "category": "Reverts", "revert": True},
    {"name": "conventional: revert", "category": "Reverts", "cc_types": ["rev"]},
    {"name": "merge", "category": "Merges", "merge": True},
    {"name": "conventional: dependencies", "category": "Dependencies", "cc_types": ["build", "chore", "fix", "ci"],
     "cc_scopes": ["deps", "dep", "deps-dev", "dependencies", "dev-deps"]},
    {"name": "conventional: feature", "category": "Features", "cc_types": ["feat", "feature", "enh", "enhancement", "api", "dep", "deprecate", "new"]},
    {"name": "conventional: fix", "category": "Fixes", "cc_types": ["fix", "bugfix", "hotfix", "security", "bug"]},
    {"name": "conventional: performance", "category": "Performance", "cc_types": ["perf"]},
    {"name": "conventional: refactoring", "category": "Refactoring", "cc_types": ["refactor", "style", "sty", "cleanup"]},
    {"name": "conventional: documentation", "category": "Documentation", "cc_types": ["docs", "doc"]},
    {"name": "conventional: tests", "category": "Tests", "cc_types": ["test", "tests", "tst", "bench"]},
    {"name": "conventional: dependencies type", "category": "Dependencies", "cc_types": ["deps"]},
    {"name": "conventional: build and CI", "category": "Build & CI", "cc_types": ["build", "ci", "bld"]},
    {"name": "conventional: chore", "category": "Chores", "cc_types": ["chore", "release", "rel", "maint", "mnt", "typ", "revert", "wip"]},
    {"name": "paths: dependencies only", "category": "Dependencies", "all_paths": DEPENDENCY_GLOBS},
    {"name": "paths: documentation only", "category": "Documentation", "all_paths": DOC_GLOBS},
    {"name": "paths: tests only", "category": "Tests", "all_paths": TEST_GLOBS},
    {"name": "paths: build and CI only", "category": "Build & CI", "all_paths": CI_GLOBS},
    {"name": "subject: dependency update", "category": "Dependencies",
     "subject": r"^(bump|upgrade|update|pin|unpin)\b.*\b(from|to)\b.*\d|\bdependenc(y|ies)\b|^(bump|upgrade)\s"},
    {"name": "subject: fix", "category": "Fixes",
     "subject": r"^(fix(es|ed|ing)?|bug ?fix|hotfix|resolve[sd]?|correct(s|ed)?|repair(s|ed)?|patch(es|ed)?|"
                r"prevent(s|ed)?|avoid(s|ed)?|handle[sd]?|workaround|guard)\b|\b(bugs?|crash(es|ed)?|regression|"
                r"broken)\b"},
    {"name": "subject: performance", "category": "Performance",
     "subject": r"\b(speed ?up|faster|optimi[sz](e|es|ed|ation)|performance|perf|latency|memory usage)\b"},
    {"name": "subject: refactoring", "category": "Refactoring",
     "subject": r"^(refactor(s|ed|ing)?|rename[sd]?|move[sd]?|clean(ed)? ?up|simplif(y|ies|ied)|extract(s|ed)?|"
                r"reorgani[sz]e[sd]?|restructure[sd]?|split|inline|tidy|rework(s|ed)?|reformat(s|ted)?|lint)\b"},
    {"name": "subject: documentation", "category": "Documentation",
     "subject": r"^(docs?|documentation|readme|typo|changelog)\b|\b(docstrings?|documentation|typos?|readme)\b"},
    {"name": "subject: tests", "category": "Tests", "subject": r"^(tests?|testing|spec)\b|\b(unit )?tests?\b"},
    {"name": "subject: build and CI", "category": "Build & CI",
     "subject": r"\b(ci|workflows?|github actions|pipeline|build|pre-commit|linters?|packaging|release)\b"},
    {"name": "subject: feature", "category": "Features",
     "subject": r"^(add(s|ed|ing)?|implement(s|ed)?|introduc(e|es|ed)|support(s|ed)?|new|creat(e|es|ed)|"
                r"allow(s|ed)?|enable[sd]?|expose[sd]?|provide[sd]?|initial)\b"},
    {"name": "subject: behaviour change", "category": "Features",
     "subject": r"^(deprecate[sd]?|abort(s|ed)?|redirect(s|ed)?|make[s]?|made|change[sd]?|raise[sd]?|return(s|ed)?|"
                r"default(s|ed)?|switch(es|ed)?|require[sd]?|stop(s|ped)?|don'?t|do not|always|never|only|improve[sd]?|"
                r"extend(s|ed)?|expand(s|ed)?|show(s|ed)?|hide[sd]?|accept(s|ed)?|reject(s|ed)?|warn(s|ed)?)\b"},
    {"name": "paths: new source files", "category": "Features", "added_source": True},
    {"name": "fallback", "category": "Chores"},
]

# Conventional Commits types narrator knows; another "word:" prefix ("hooks: ...") is read as a topic.
KNOWN_CC_TYPES = {t for rule in DEFAULT_RULES for t in rule.get("cc_types", ())}

_AREA_CONTAINERS = {"src", "lib", "libs", "packages", "apps", "services", "cmd", "pkg", "internal", "modules",
                    "crates", "components", "plugins", "app"}
_SOURCE_LANGUAGES = {"Python", "Java", "JavaScript", "TypeScript", "Go", "Ruby", "PHP", "Rust", "C", "C++", "C#",
                     "Swift", "Kotlin", "Scala", "Vue", "Svelte", "Dart", "Elixir", "Lua", "Perl", "Shell"}
ROOT_AREA = "project root"
DOCS_AREA = "documentation"
TESTS_AREA = "tests"
TOOLING_AREA = "build, tooling and dependencies"
_DOC_DIRS = {"docs", "doc", "documentation", "man", "website"}
_TEST_DIRS = {"tests", "test", "spec", "specs", "__tests__", "testing", "e2e"}
_TOOLING_DIRS = {".github", ".gitlab", ".circleci", ".ci", ".buildkite", ".devcontainer", ".husky", ".vscode",
                 "ci", "requirements"}
# A message that says it breaks users in words: "This is a breaking change, but to a better default value."
# (not a message about such messages: "a message saying it is a breaking change is one" describes a rule)
_SAYS_BREAKING = re.compile(r"(?<!saying )(?<!says )(?<!said )\b(?:this|it|which) (?:is|introduces|makes) a "
                            r"(?:\w+ )?breaking change\b|"
                            r"\bBC[- ]break\b|\bbackwards?[- ]incompatible change\b", re.I)


def _says_breaking(commit: CommitFacts) -> bool:
    """Whether the message says it breaks compatibility (``_SAYS_BREAKING``)."""
    # Every such phrase holds "break" or "incompatible": most messages hold neither, and lowering a text costs
    # far less than the pattern's search. Exact: no other character matches r, e, a, k, n, c, o, m, p or t
    # ignoring case but lowers to another letter (the Kelvin sign lowers to k).
    subject, body = commit.subject.lower(), commit.body.lower()
    if "reak" not in subject and "reak" not in body and "ncompat" not in subject and "ncompat" not in body:
        return False
    return _SAYS_BREAKING.search(f"{commit.subject}\n{commit.body}") is not None


_TOOLING_KINDS = frozenset({"ci", "tooling", "dependencies", "generated", "minified", "vendored"})
_ROOT_TOOLING = ["pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in", "*.toml", "*.yml", "*.yaml", ".*"]


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> GlobSet:
    """Glob with ``**`` (any depth, including none) and ``*`` (within one path segment); linear-time matcher."""
    return compile_globs([pattern])


@lru_cache(maxsize=1024)
def _globs_regex(globs: tuple[str, ...]) -> GlobSet:
    """One matcher for a whole glob list (one pass over the path, much faster than trying each glob in turn)."""
    return compile_globs(globs)


def path_matches(path: str, globs: Sequence[str]) -> bool:
    return _globs_regex(tuple(globs)).match(path) is not None


@lru_cache(maxsize=PATH_MEMO)
def is_test_path(path: str) -> bool:
    return path_matches(path, TEST_GLOBS)


def is_source_path(path: str, language: str | None) -> bool:
    # The language first: most paths of a long history are not source and need no remembered answer, and the
    # answer for the others is remembered per path alone (no key tuple of path and language per entry).
    return language in _SOURCE_LANGUAGES and _is_code_path(path)


@lru_cache(maxsize=PATH_MEMO)
def _is_code_path(path: str) -> bool:
    """Whether a path in a source language is shipped code (not a test, not CI)."""
    return not is_test_path(path) and not path_matches(path, CI_GLOBS)


@dataclass(frozen=True)
class ConventionalSubject:
    type: str
    scope: str | None
    breaking: bool
    description: str


def parse_conventional(subject: str) -> ConventionalSubject | None:
    match = _CC.match(subject.strip())
    if not match:
        return None
    return ConventionalSubject(
        type=match.group("type").lower(),
        scope=(match.group("scope") or "").strip() or None,
        breaking=bool(match.group("bang")),
        description=match.group("desc").strip(),
    )


_RULE_LISTS = ("cc_types", "cc_scopes", "all_paths", "any_path")  # lists of strings
_RULE_FLAGS = ("revert", "merge", "added_source")  # booleans
_RULE_KEYS = {"name", "category", "subject", *_RULE_LISTS, *_RULE_FLAGS}


def _validate_rules(rules: Sequence[Mapping[str, Any]], source: str = "the config") -> list[Mapping[str, Any]]:
    """The user's rules, each checked for its keys and the type of every value (a ConfigError names the entry,
    the key, the file and the type expected); the category and the name are cleaned like commit text, since
    they are printed in every report."""

    def bad(index: int, key: str, expected: str, value: Any) -> ConfigError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ConfigError(f"classify.rules entry {index} key '{key}' in {source} must be {expected}, got "
                           f"{type(value).__name__} {shown}")

    checked = []
    for index, rule in enumerate(rules, start=1):
        if not isinstance(rule, Mapping) or "category" not in rule:
            raise ConfigError(f"classify.rules entry {index} in {source} needs a 'category'")
        unknown = set(rule) - _RULE_KEYS
        if unknown:
            raise ConfigError(f"classify.rules entry {index} in {source} has unknown keys: "
                              f"{', '.join(one_line(k) for k in sorted(unknown))}; use {', '.join(sorted(_RULE_KEYS))}")
        rule = dict(rule)
        for key in ("category", "name"):
            if key in rule:
                if not isinstance(rule[key], str) or not one_line(rule[key]):
                    raise bad(index, key, "a non-empty string", rule[key])
                rule[key] = one_line(rule[key])
        for key in _RULE_LISTS:
            if key in rule and (not isinstance(rule[key], (list, tuple))
                                or not all(isinstance(item, str) for item in rule[key])):
                example = {"cc_types": '["feat", "fix"]', "cc_scopes": '["api"]'}.get(key, '["src/**"]')
                raise bad(index, key, f"a list of strings (e.g. {example})", rule[key])
        for key in _RULE_FLAGS:
            if key in rule and not isinstance(rule[key], bool):
                raise bad(index, key, "a boolean (true/false)", rule[key])
        if "subject" in rule:
            compile_user_regex(rule["subject"], f"classify.rules entry {index}", source, what="subject ")
        if "all_paths" in rule or "any_path" in rule:
            compile_globs([*rule.get("all_paths", ()), *rule.get("any_path", ())])
        checked.append(rule)
    return checked


class Classifier:
    """Applies the ordered rules and the area mapping to commits."""

    def __init__(self, extra_rules: Sequence[Mapping[str, Any]] = (), areas: Mapping[str, str] | None = None,
                 split_areas: Iterable[str] = (), project: str = "", source: str = "the config"):
        user_rules = _validate_rules(list(extra_rules), source)
        self.rules = user_rules + DEFAULT_RULES
        # area names are printed in every report: cleaned like commit text (a repository's config is untrusted)
        self.areas = {glob: one_line(name) for glob, name in (areas or {}).items()}
        self.split_areas = frozenset(split_areas)  # top-level directories shown one level deeper
        # The project's own code (root-level source files of a Go-style repository, src/<project>/, <project>/)
        # is named "<project> core": the area a manager should read as "the product itself".
        self.project = project.strip()
        self.core_area = f"{self.project} core" if self.project else ""
        # a user's subject regex is matched with time limits (safe_regex); the built-in ones are ours
        self._subject_res: dict[int, Any] = {
            id(r): compile_user_regex(r["subject"], f"classify.rules entry {i}", source, what="subject ")
            for i, r in enumerate(user_rules, start=1) if "subject" in r}
        self._subject_res.update({id(r): re.compile(r["subject"], re.I) for r in DEFAULT_RULES if "subject" in r})
        self._area_cache: dict[str, str] = {}
        # one table of answers per path glob list of a rule, keyed by the path alone (a key tuple per rule and
        # path cost more than the answer: about 64 bytes for each distinct path of a long history)
        self._path_cache: dict[tuple[int, str], dict[str, bool]] = {}
        self._glob_res = {(i, key): _globs_regex(tuple(r[key])) for i, r in enumerate(self.rules)
                          for key in ("all_paths", "any_path") if key in r}
        self._shared_areas: dict[tuple[str, ...], tuple[str, ...]] = {}

    def area_of(self, path: str) -> str:
        area = self._area_cache.get(path)
        if area is None:  # interned: every path of a directory names the same area string
            if len(self._area_cache) >= PATH_MEMO:  # bounded: a long history touches ever more paths
                self._area_cache.clear()
            area = self._area_cache[path] = _intern(self._area_of(path))
        return area

    def _area_of(self, path: str) -> str:
        for glob, area in self.areas.items():
            if path_matches(path, [glob]):
                return area
        kind = path_kind(path)
        if kind == "test":  # core/test/..., features/step_definitions/...: tests wherever they sit
            return TESTS_AREA
        if kind in _TOOLING_KINDS:  # dist/, vendored copies, lockfiles, CI, scripts/: not where the work went
            return TOOLING_AREA
        parts = path.split("/")
        top = parts[0].lower()
        root_file = len(parts) == 1
        if top in _TOOLING_DIRS or (root_file and path_matches(path, DEPENDENCY_GLOBS + CI_GLOBS)):
            return TOOLING_AREA  # before docs: requirements.txt is a dependency list, not a document
        if top in _DOC_DIRS or (root_file and path_matches(path, DOC_GLOBS)):
            return DOCS_AREA
        if top in _TEST_DIRS or (root_file and path_matches(path, TEST_GLOBS)):
            return TESTS_AREA
        if root_file and path_matches(path, _ROOT_TOOLING):
            return TOOLING_AREA
        if len(parts) == 1:
            if self.core_area:
                from narrator.git.walker import language_of

                if is_source_path(path, language_of(path)):
                    return self.core_area
            return ROOT_AREA
        if (top in _AREA_CONTAINERS or parts[0] in self.split_areas) and len(parts) > 2:
            if self.core_area and top in _AREA_CONTAINERS and parts[1].lower() == self.project.lower():
                return self.core_area
            return f"{parts[0]}/{parts[1]}"
        if self.core_area and top in (self.project.lower(), "core") and parts[0] not in self.split_areas:
            return self.core_area  # guice's core/ module is the guice core
        return parts[0]

    def classify(self, commit: CommitFacts) -> Classification:
        cc = parse_conventional(commit.subject)
        prefix = None if cc else _PREFIX.match(commit.subject.strip())
        text = cc.description if cc else (prefix.group("desc") if prefix else commit.subject)
        paths = [f.path for f in commit.files]
        rule = self._first_match(commit, cc, text, paths)
        breaking = bool(cc and cc.breaking) or "BREAKING CHANGE" in commit.body or _says_breaking(commit)
        return Classification(
            category=rule["category"],
            areas=self.areas_of(paths),
            rule=rule.get("name", "user rule"),
            breaking=breaking,
            scope=(cc.scope or (None if cc.type in KNOWN_CC_TYPES else cc.type)) if cc else
            (prefix.group("scope") if prefix else None),
            description=text,
        )

    def areas_of(self, paths: Sequence[str]) -> tuple[str, ...]:
        """The areas these paths belong to, the one with most files first. Generated and minified copies
        (``dist/lodash.js`` rebuilt with ``lodash.js``) count only when the commit touches nothing else."""
        made = [p for p in paths if path_kind(p) in ("generated", "minified")]
        if made and len(made) < len(paths) and not any(path_matches(p, [g]) for p in made for g in self.areas):
            paths = [p for p in paths if p not in set(made)]
        counts: dict[str, int] = {}
        for p in paths:
            area = self.area_of(p)
            counts[area] = counts.get(area, 0) + 1
        areas = tuple(sorted(counts, key=lambda a: (-counts[a], a)))
        return shared(self._shared_areas, areas)  # a window has a few hundred distinct area lists

    def _first_match(self, commit: CommitFacts, cc: ConventionalSubject | None, text: str,
                     paths: list[str]) -> Mapping[str, Any]:
        # Conditions are checked cheapest first; path checks are remembered per (rule, path).
        for index, rule in enumerate(self.rules):
            if "revert" in rule and bool(rule["revert"]) != commit.is_revert:
                continue
            if "merge" in rule and bool(rule["merge"]) != commit.is_merge:
                continue
            if "cc_types" in rule and (cc is None or cc.type not in rule["cc_types"]):
                continue
            if "cc_scopes" in rule and (cc is None or (cc.scope or "").lower() not in rule["cc_scopes"]):
                continue
            if "subject" in rule and not self._subject_res[id(rule)].search(text):
                continue
            if "all_paths" in rule and (not paths or not all(self._path_in(p, index, rule, "all_paths") for p in paths)):
                continue
            if "any_path" in rule and not any(self._path_in(p, index, rule, "any_path") for p in paths):
                continue
            if rule.get("added_source") and not any(
                f.change_type is ChangeType.ADDED and is_source_path(f.path, f.language) for f in commit.files
            ):
                continue
            return rule
        return {"category": "Chores", "name": "fallback"}  # pragma: no cover - DEFAULT_RULES end in a fallback

    def _path_in(self, path: str, index: int, rule: Mapping[str, Any], key: str) -> bool:
        answers = self._path_cache.get((index, key))
        if answers is None:
            answers = self._path_cache[(index, key)] = {}
        found = answers.get(path)
        if found is None:
            if len(answers) >= PATH_MEMO:  # bounded, as ``area_of``'s
                answers.clear()
            found = answers[path] = self._glob_res[(index, key)].match(path) is not None
        return found


def root_package(paths: Iterable[str], classifier: "Classifier", share: float = 0.6) -> str | None:
    """A top-level code directory holding most of the repository's source files (a package at the root, like
    ``numpy/``), or None. Decided from the tracked files, not from a window's commits, so that a commit gets the
    same areas in every report, in ``narrate commit`` and in the hook.

    Reports split such a directory one level deeper, otherwise every line would say "in numpy".
    """
    from narrator.git.walker import language_of

    paths = list(paths)
    counts: dict[str, int] = {}
    total = 0
    for path in paths:
        if not is_source_path(path, language_of(path)):
            continue
        total += 1
        area = classifier.area_of(path)
        counts[area] = counts.get(area, 0) + 1
    if not counts or total < 5:
        return None
    area, count = max(counts.items(), key=lambda kv: kv[1])
    if "/" in area or area in (ROOT_AREA, DOCS_AREA, TESTS_AREA, TOOLING_AREA) or count < share * total:
        return None
    below: dict[str, int] = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == area and is_source_path(path, language_of(path)):
            below[parts[1]] = below.get(parts[1], 0) + 1
    if not below or max(below.values()) >= 0.9 * sum(below.values()):
        return None  # guice's core/src/...: one source root below it, splitting would only say "core/src"
    return area
