"""What a path is, once for the whole program: shipped source, tests, docs, changelog, CI, tooling, ...

``path_kind(path)`` returns one of ``KINDS``. The rules are tried in this order and the first that holds wins
(so ``dist/app.min.js`` is minified, not source, and ``tests/fixtures/vendor/x.php`` is a test):

| kind           | examples                                                                        |
|----------------|---------------------------------------------------------------------------------|
| binary         | images, fonts, archives, compiled objects (by extension; or ``binary=True``)     |
| vendored       | ``vendor/``, ``_vendor/``, ``third_party/``, ``node_modules/``, ``bower_components/`` |
| minified       | ``*.min.js``, ``*.min.css``, ``*-min.js``                                        |
| dependencies   | lockfiles (``uv.lock``, ``package-lock.json``, ``go.sum``, ...) and manifests     |
|                | (``package.json``, ``composer.json``, ``go.mod``, ``requirements*.txt``, ...)    |
| generated      | ``*.pb.go``, ``*_pb2.py``, ``*_gen.go``, ``*.generated.*``, source maps, ``dist/``, |
|                | ``generated/``, ``__generated__/`` (and content marked "Code generated ... DO NOT EDIT", |
|                | see ``is_generated_text``)                                                        |
| changelog      | ``CHANGES.rst``, ``CHANGELOG.md``, ``HISTORY.md``, ``NEWS``, news fragments (see  |
|                | ``narrator.evidence.changelog``)                                                  |
| test           | ``tests/``, ``test/``, ``spec/``, ``__tests__/``, ``testdata/``, ``test_*.py``,     |
|                | ``*_test.go``, ``*.test.ts``, ``*Test.java``, ``*_spec.rb``, ``conftest.py``,       |
|                | Cucumber's ``*.feature``, ``step_definitions/``, ``features/support/``, ...         |
| ci             | ``.github/``, ``.gitlab-ci.yml``, ``.circleci/``, ``Jenkinsfile``, ``.travis.yml``, ... |
| docs           | ``docs/``, ``doc/``, ``examples/``, ``*.md``/``*.rst``/``*.adoc`` anywhere, README,  |
|                | LICENSE, CONTRIBUTING, AUTHORS, root ``*.txt``                                   |
| tooling        | build and developer configuration: ``pyproject.toml``, ``setup.py``, ``Makefile``, |
|                | ``Dockerfile``, ``tox.ini``, dotfiles, ``scripts/``, ``tools/``, ``bench/``, linters, |
|                | Bazel ``BUILD``/``WORKSPACE``/``*.bzl``, shell scripts outside source directories |
| source         | everything shipped: code files anywhere else (root-level ``main.go``, ``echo.go``  |
|                | included) and any file under ``src/``, ``lib/``, ``app/``, ``pkg/``, ``res/``, ...  |
| other          | anything else (data files, assets outside a source directory)                    |

Generated, minified, vendored and dependency files are never "source"; neither are tests, docs or tooling.
``is_shipped_source`` is the test used for API/behaviour signals, hotspots and churn.
"""

from __future__ import annotations

import re
from functools import lru_cache

from narrator.evidence.changelog import changelog_file_kind
from narrator.evidence.sharing import PATH_MEMO

__all__ = ["KINDS", "NOISE_KINDS", "path_kind", "is_shipped_source", "is_test", "is_docs", "is_lockfile",
           "is_generated_text", "wants_hunks", "language_of"]

KINDS = ("source", "test", "docs", "changelog", "ci", "tooling", "dependencies", "generated", "vendored",
         "minified", "binary", "other")
NOISE_KINDS = frozenset({"generated", "vendored", "minified", "binary", "dependencies"})

_BINARY_EXT = frozenset(
    "png jpg jpeg gif bmp ico icns webp tif tiff psd ai eps svgz heic avif woff woff2 ttf otf eot "
    "zip gz tgz bz2 xz 7z rar tar jar war ear whl egg phar so dll dylib a o obj lib exe bin class pyc pyo "
    "pdf doc docx xls xlsx ppt pptx odt mp3 mp4 m4a wav ogg flac avi mov mkv webm sqlite db dat pkl npy npz "
    "onnx pt safetensors gguf wasm".split())
_SOURCE_EXT = frozenset(
    "py pyi pyx pxd java kt kts groovy scala js mjs cjs jsx ts tsx mts cts vue svelte go rb rake erb php phpt "
    "rs c h cc cpp cxx hpp hh cs fs swift m mm dart ex exs erl hrl hs ml mli clj cljs lua pl pm r jl sh bash "
    "zsh ps1 sql html htm css scss sass less twig jinja j2 liquid hbs ejs haml slim proto graphql gql".split())
_VENDORED_DIRS = frozenset({"vendor", "_vendor", "third_party", "thirdparty", "third-party", "node_modules",
                            "bower_components", "vendored"})
_LOCKFILES = frozenset({
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "pipfile.lock", "cargo.lock",
    "gemfile.lock", "composer.lock", "go.sum", "uv.lock", "pdm.lock", "mix.lock", "podfile.lock",
    "packages.lock.json", "flake.lock", "bun.lockb", "npm-shrinkwrap.json", "gradle.lockfile", "go.work.sum",
    "pubspec.lock", "deno.lock",
})
_MANIFESTS = frozenset({
    "package.json", "composer.json", "go.mod", "go.work", "gemfile", "pipfile", "cargo.toml", "pom.xml",
    "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "bower.json", "pubspec.yaml",
    "mix.exs", "project.clj", "deno.json", "renovate.json", ".renovaterc", ".renovaterc.json", "dependabot.yml",
    "dependabot.yaml", "environment.yml", "environment.yaml",
})
_GENERATED_NAME = re.compile(
    r"(\.pb\.go|\.pb\.gw\.go|_pb2\.pyi?|_pb2_grpc\.py|\.pb\.(cc|h)|_gen\.go|\.gen\.go|zz_generated[^/]*\.go|"
    r"\.generated\.\w+|\.g\.dart|\.freezed\.dart|\.designer\.cs|\.g\.cs|\.map)$")
_GENERATED_DIRS = frozenset({"generated", "__generated__", "dist", "gen-src"})
_TEST_DIRS = frozenset({"tests", "test", "spec", "specs", "__tests__", "__mocks__", "testing", "testdata",
                        "test_data", "e2e", "__snapshots__", "testsuite", "integration-tests", "unittests"})
_TEST_NAME = re.compile(
    r"^(test_[^/]*\.py|conftest\.py|[^/]*_tests?\.py|[^/]*_test\.go|[^/]*\.(test|spec)\.[cm]?[jt]sx?|"
    r"[^/]*(Test|Tests|TestCase|IT)\.(java|kt|groovy|scala|php|cs)|[^/]*_spec\.rb|[^/]*_test\.rb|"
    r"test_[^/]*\.rb|[^/]*\.snap|phpunit\.xml(\.dist)?|jest\.config\.[cm]?[jt]s|karma\.conf\.js|"
    r"\.rspec|pytest\.ini|[^/]*_test\.exs|[^/]*_test\.rs|[^/]*\.t)$")
_CI_DIRS = frozenset({".github", ".gitlab", ".circleci", ".buildkite", ".ci", ".azure-pipelines",
                      ".woodpecker", ".forgejo", ".gitea", ".drone"})
_CI_NAMES = frozenset({
    ".gitlab-ci.yml", ".travis.yml", "azure-pipelines.yml", "jenkinsfile", "appveyor.yml", ".appveyor.yml",
    "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker.yml", "codecov.yml", ".codecov.yml", "cloudbuild.yaml",
    ".cirrus.yml", "netlify.toml", "vercel.json",
})
_DOC_DIRS = frozenset({"docs", "doc", "documentation", "man", "website", "examples", "example", "_examples",
                       "docs_src", "guides", "guide", "tutorial", "manual", "site"})
_DOC_EXT = frozenset({"md", "markdown", "rst", "adoc", "asciidoc", "rdoc", "textile", "mdx", "ipynb", "pod"})
_DOC_NAMES = re.compile(
    r"^(readme|license|licence|copying|copyright|authors|contributors|contributing|code_of_conduct|security|"
    r"support|governance|maintainers|notice|patents|funding|citation|thanks|credits|upgrade|upgrading|"
    r"migration|todo|faq)([._-][^/]*)?$", re.I)
_TOOLING_DIRS = frozenset({"scripts", "script", "tools", "tool", "bench", "benchmark", "benchmarks", "hack",
                           "build-aux", "ci", "requirements", "devtools", "dev", "utils-dev", "phpstan",
                           "typings", "stubs", "misc", "contrib", "docker", "deploy",
                           "packaging", "perf", "fuzz", "rake", "rakelib", "tasks", "gulp", "grunt"})
_TOOLING_NAMES = re.compile(
    r"^(pyproject\.toml|setup\.py|setup\.cfg|manifest\.in|makefile|gnumakefile|[^/]*\.mk|dockerfile[^/]*|"
    r"[^/]*\.dockerfile|docker-compose[^/]*\.ya?ml|compose\.ya?ml|tox\.ini|noxfile\.py|fabfile\.py|"
    r"rakefile|gruntfile\.js|gulpfile\.[jt]s|[^/]*\.config\.[cm]?[jt]s|tsconfig[^/]*\.json|jsconfig\.json|"
    r"babel\.config\.[^/]*|webpack[^/]*\.js|rollup[^/]*\.[cm]?js|vite[^/]*\.[jt]s|cmakelists\.txt|[^/]*\.cmake|"
    r"build\.xml|build\.sbt|meson\.build|justfile|taskfile\.ya?ml|[^/]*\.neon(\.dist)?|phpcs\.xml(\.dist)?|"
    r"psalm\.xml|infection\.json[^/]*|ruff\.toml|mypy\.ini|pylintrc|[^/]*\.ini|[^/]*\.cfg|[^/]*\.toml|"
    r"[^/]*\.ya?ml|[^/]*\.iml|gemfile\.devel|[^/]*\.nix|vagrantfile|procfile|lefthook\.yml|"
    r"[^/]*\.gemspec|setup\.rb|version(\.txt)?|build|build\.bazel|workspace|workspace\.bazel|module\.bazel|"
    r"[^/]*\.bzl|buck|\.[^/]+)$", re.I)
_SCRIPT_EXT = frozenset({"sh", "bash", "zsh", "ps1", "bat", "cmd"})  # outside a source directory: developer scripts
_SOURCE_DIRS = frozenset({"src", "lib", "libs", "app", "apps", "pkg", "cmd", "internal", "res", "resources",
                          "assets", "static", "templates", "include", "bin", "exe", "source", "sources",
                          "packages", "modules", "components", "plugins", "crates", "core", "server",
                          "client", "main", "public", "locale", "locales", "i18n", "views", "migrations"})

_LANGUAGE_EXT = {
    "py": "Python", "pyi": "Python", "pyx": "Python", "java": "Java", "kt": "Kotlin", "kts": "Kotlin",
    "groovy": "Groovy", "scala": "Scala", "js": "JavaScript", "mjs": "JavaScript", "cjs": "JavaScript",
    "jsx": "JavaScript", "ts": "TypeScript", "tsx": "TypeScript", "mts": "TypeScript", "cts": "TypeScript",
    "vue": "JavaScript", "svelte": "JavaScript", "go": "Go", "rb": "Ruby", "rake": "Ruby", "php": "PHP",
    "rs": "Rust", "c": "C", "h": "C", "cc": "C++", "cpp": "C++", "hpp": "C++", "cs": "C#", "swift": "Swift",
}


def _is_cucumber(dirs: list[str], lower: str, ext: str) -> bool:
    """Cucumber acceptance tests: ``*.feature`` files, ``step_definitions/`` and ``features/support/``, and step
    definitions kept in a file of ``features/`` (jekyll's ``features/step_definitions.rb``, ``*_steps.rb``)."""
    stem = lower[:-len(ext) - 1] if ext else lower
    return ext == "feature" or "step_definitions" in dirs or (len(dirs) >= 2 and dirs[0] == "features"
                                                             and dirs[1] in ("support", "fixtures")) or (
        bool(dirs) and dirs[0] == "features" and (stem == "step_definitions" or stem.endswith("_steps")))


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot + 1:].lower() if dot > 0 else ""


@lru_cache(maxsize=PATH_MEMO)
def path_kind(path: str, binary: bool = False) -> str:
    """The kind of a repository path (one of ``KINDS``); see the module docstring for the rules."""
    if binary:
        return "binary"
    parts = path.split("/")
    name = parts[-1]
    lower = name.lower()
    ext = _ext(name)
    dirs = [p.lower() for p in parts[:-1]]
    dirset = frozenset(dirs)
    if ext in _BINARY_EXT:
        return "binary"
    if dirset & _VENDORED_DIRS:
        return "vendored"
    if ".min." in lower or lower.endswith(("-min.js", "-min.css")):
        return "minified"
    if lower in _LOCKFILES or (ext == "lock" and not dirset & _SOURCE_DIRS):
        return "dependencies"
    if _GENERATED_NAME.search(lower) or dirset & _GENERATED_DIRS:
        return "generated"
    if changelog_file_kind(path) is not None:
        return "changelog"
    if dirset & _TEST_DIRS or _TEST_NAME.match(name) or _is_cucumber(dirs, lower, ext):
        return "test"
    if (dirs and dirs[0] in _CI_DIRS) or lower in _CI_NAMES:
        return "ci"
    if lower in _MANIFESTS or re.match(r"^(requirements|constraints)[^/]*\.(txt|in)$", lower) or \
            (dirs and dirs[-1] == "requirements" and ext in ("txt", "in")) or lower.endswith(".gemspec"):
        return "dependencies"
    if (dirs and dirs[0] in _DOC_DIRS) or ext in _DOC_EXT or _DOC_NAMES.match(name) or \
            (not dirs and ext == "txt"):
        return "docs"
    if (dirs and (dirs[0] in _TOOLING_DIRS or dirs[0].startswith("."))) or \
            (not (dirset & _SOURCE_DIRS) and (_TOOLING_NAMES.match(name) or ext in _SCRIPT_EXT)) or \
            name in ("BUILD", "BUILD.bazel") or ext == "bzl":  # Bazel's build files sit beside the code
        return "tooling"
    if ext in _SOURCE_EXT or dirset & _SOURCE_DIRS:
        return "source"
    if not ext and dirs and dirs[0] in ("bin", "exe", "libexec"):
        return "source"
    return "other"


def is_shipped_source(path: str, binary: bool = False) -> bool:
    """Code and resources a user of the project runs: the only paths whose changes count as API/behaviour."""
    return path_kind(path, binary) == "source"


def is_test(path: str) -> bool:
    return path_kind(path) == "test"


def is_docs(path: str) -> bool:
    return path_kind(path) in ("docs", "changelog")


def is_lockfile(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name in _LOCKFILES or name.endswith(".lock")


_GENERATED_MARK = re.compile(r"Code generated .{0,80}DO NOT EDIT|@generated\b|<auto-generated|"
                             r"\bautogenerated\b|\bauto-generated file\b|This file (is|was) (automatically )?generated",
                             re.I)


def is_generated_text(head: str) -> bool:
    """True when the first lines of a file say it is machine-written ("Code generated ... DO NOT EDIT")."""
    return _GENERATED_MARK.search(head[:2000]) is not None


@lru_cache(maxsize=PATH_MEMO)
def wants_hunks(path: str) -> bool:
    """Whether a file's diff lines are worth parsing for evidence (source, tests, docs, changelogs, config).

    Lockfiles, generated, vendored, minified and binary files are counted but never read line by line.
    """
    return path_kind(path) not in NOISE_KINDS


@lru_cache(maxsize=PATH_MEMO)
def language_of(path: str) -> str | None:
    """The programming language of a path from its extension (None when it is not code)."""
    return _LANGUAGE_EXT.get(_ext(path.rsplit("/", 1)[-1]))
