"""narrator.evidence.signals: code signals per language (with negatives) and security markers in text."""

from __future__ import annotations

import subprocess
from pathlib import Path

from narrator.evidence.changelog import ChangelogEntry
from narrator.evidence.patch import parse_patch
from narrator.evidence.signals import find_signals, text_signals


def signals(tmp_path: Path, before: dict[str, str], after: dict[str, str | None]):
    repo = tmp_path / "r"
    repo.mkdir(exist_ok=True)

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *a], check=True,
                              capture_output=True).stdout.decode()

    git("init", "-q")
    for rel, content in before.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "before")
    for rel, content in after.items():
        if content is None:
            (repo / rel).unlink()
        else:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(content)
    git("add", "-A")
    return find_signals(parse_patch(git("diff", "--cached", "-M")))


def kinds(found) -> set[tuple[str, str]]:
    return {(s.kind, s.name) for s in found}


# ----------------------------------------------------------------------------------------------- Python

PY = '''"""HTTP helpers."""
import os
import sys
import warnings


def fetch_all(url, timeout=10):
    """Fetch every page."""
    return [url]


def old_helper(x):
    return x * 2


def _private_helper(x):
    return x


def outer():
    def inner():
        return 1
    return inner()


class Client:
    retries = 3

    def reconnect(self):
        return True

    def get(self, key, default=None):
        return default


def connect(host, port=80, timeout=10):
    token = os.environ.get("APP_TOKEN")
    return host, port, timeout, token


def main():
    sys.exit(2)
'''


def test_python_removed_renamed_default_env_exit(tmp_path):
    after = (PY.replace("def fetch_all(url, timeout=10):", "def fetch_every(url, timeout=10):")
             .replace("def old_helper(x):\n    return x * 2\n\n\n", "")
             .replace("def _private_helper(x):\n    return x\n\n\n", "")
             .replace("    def inner():\n        return 1\n    return inner()\n", "    return 1\n")
             .replace("    def reconnect(self):\n        return True\n\n", "")
             .replace("    def get(self, key, default=None):\n        return default\n", "    pass\n")
             .replace("timeout=10):\n    token", "timeout=30):\n    token")
             .replace('    token = os.environ.get("APP_TOKEN")\n', "    token = None\n")
             .replace("    retries = 3", "    retries = 5")
             .replace("sys.exit(2)", "sys.exit(1)"))
    found = signals(tmp_path, {"src/pkg/http.py": PY}, {"src/pkg/http.py": after})
    assert kinds(found) == {
        ("api_renamed", "fetch_all"), ("api_removed", "old_helper"), ("api_removed", "Client.reconnect"),
        ("default_changed", "connect(timeout)"), ("default_changed", "retries"), ("env_removed", "APP_TOKEN"),
        ("exit_code_changed", "exit"),
    }
    by_kind = {s.kind + s.name: s for s in found}
    assert by_kind["api_renamedfetch_all"].detail == "renamed to fetch_every"
    assert by_kind["default_changedconnect(timeout)"].detail == "10 -> 30"
    removed = by_kind["api_removedold_helper"]
    assert (removed.path, removed.line, removed.text) == ("src/pkg/http.py", 12, "def old_helper(x):")
    assert by_kind["exit_code_changedexit"].detail == "2 -> 1"


def test_python_negatives_moved_private_tests(tmp_path):
    moved_from = PY
    moved_to = PY.replace("def old_helper(x):\n    return x * 2\n\n\n", "")
    found = signals(tmp_path, {"src/pkg/http.py": moved_from, "src/pkg/_impl.py": "def old(): pass\n",
                               "tests/test_http.py": "def test_fetch():\n    assert True\n\n\ndef helper():\n    pass\n"},
                    {"src/pkg/http.py": moved_to, "src/pkg/util.py": "def old_helper(x):\n    return x * 2\n",
                     "src/pkg/_impl.py": None, "tests/test_http.py": "def test_fetch():\n    assert True\n"})
    assert found == ()  # moved to util.py; _impl.py is private; a test function is not an API


def test_python_kept_as_attribute_is_not_removed(tmp_path):
    before = "class App:\n    def should_ignore_error(self, error):\n        return False\n"
    after = ('class App:\n    should_ignore_error: None = None\n    """Deprecated.\n\n'
             '    .. deprecated:: 3.2\n        Handle errors in teardown.\n    """\n')
    found = signals(tmp_path, {"src/flask/app.py": before}, {"src/flask/app.py": after})
    assert kinds(found) == {("deprecation_added", "should_ignore_error")}


def test_python_deprecations(tmp_path):
    before = "def run(self):\n    self.go()\n\n\ndef other():\n    pass\n"
    after = ('def run(self):\n    import warnings\n\n    warnings.warn(\n        "\'run\' is deprecated and will be"\n'
             '        " removed in 4.0.",\n        DeprecationWarning,\n        stacklevel=2,\n    )\n    self.go()\n\n\n'
             '@deprecated("use new_other")\ndef other():\n    pass\n')
    found = signals(tmp_path, {"src/app/core.py": before}, {"src/app/core.py": after})
    assert kinds(found) == {("deprecation_added", "run"), ("deprecation_added", "other")}


def test_python_deprecation_negatives(tmp_path):
    before = "def run():\n    pass\n"
    after = ('def run():\n    # this used to be deprecated, now it is fine\n'
             '    warnings.warn("slow path", UserWarning)\n    pass\n')
    assert signals(tmp_path, {"src/app/core.py": before}, {"src/app/core.py": after}) == ()


def test_code_named_in_prose_or_comments_deprecates_nothing(tmp_path):
    """This repository's own signals.py documents the idioms it finds in a docstring table; quoting
    ``warnings.warn(..., DeprecationWarning)`` or a JSDoc's `util.deprecate()` is prose, and a commented-out
    warning deprecates nothing: none of them is a deprecation. The directive and real calls still are."""
    before = '"""Signals."""\n\n\ndef run():\n    pass\n'
    after = ('"""Signals.\n\n| deprecation_added | Python ``warnings.warn(..., DeprecationWarning)``, JS `util.deprecate` |\n'
             'Python `warnings.warn("x is deprecated", DeprecationWarning)` too.\n"""\n\n\n'
             'def run():\n    # warnings.warn("run is deprecated", DeprecationWarning)\n    pass\n')
    assert signals(tmp_path, {"src/tool/signals.py": before}, {"src/tool/signals.py": after}) == ()
    js_before = "export function chunk(a) {\n  return a;\n}\n"
    js_after = ("/**\n * Wraps `util.deprecate(fn, msg)` for callers.\n */\n"
                "export function chunk(a) {\n  return a;\n}\n")
    (tmp_path / "js").mkdir()
    assert signals(tmp_path / "js", {"src/chunk.js": js_before}, {"src/chunk.js": js_after}) == ()


def test_deprecations_in_literals_of_code_still_count(tmp_path):
    before = "def run():\n    pass\n"
    after = ('def run():\n    """Run.\n\n    .. deprecated:: 2.0\n        Use ``go()`` instead.\n    """\n    pass\n')
    assert kinds(signals(tmp_path, {"src/app/core.py": before}, {"src/app/core.py": after})) == {
        ("deprecation_added", "run")}
    js_before = "export function chunk(a) {\n  return a;\n}\n"
    js_after = "export function chunk(a) {\n  console.warn(`chunk() is deprecated, use split()`);\n  return a;\n}\n"
    (tmp_path / "js").mkdir()
    assert [s.kind for s in signals(tmp_path / "js", {"src/chunk.js": js_before}, {"src/chunk.js": js_after})] == [
        "deprecation_added"]


def test_python_cli_options(tmp_path):
    before = ('import argparse\nimport click\n\n\ndef build():\n    parser = argparse.ArgumentParser()\n'
              '    parser.add_argument("--no-deps", action="store_true")\n'
              '    parser.add_argument("-j", "--jobs", type=int, default=1)\n    return parser\n\n\n'
              '@click.command()\n@click.option("--out", type=click.Path(), help="Where to write.")\n'
              '@click.option("--color/--no-color", default=True)\ndef cli(out, color):\n    pass\n')
    after = (before.replace('    parser.add_argument("--no-deps", action="store_true")\n', "")
             .replace('type=int, default=1)', 'type=int, default=4)')
             .replace('@click.option("--out", type=', '@click.option("--output", type='))
    found = signals(tmp_path, {"src/tool/cli.py": before}, {"src/tool/cli.py": after})
    assert kinds(found) == {("option_removed", "--no-deps"), ("option_renamed", "--out"),
                            ("default_changed", "--jobs")}
    assert {s.detail for s in found if s.kind == "default_changed"} == {"1 -> 4"}


# ----------------------------------------------------------------------------------------------- JavaScript

JS = """const util = require('util');

export function chunk(array, size = 1) {
  return [array, size];
}

export const VERSION = '1.0.0';

function internalHelper() {
  return 1;
}

export function retry(fn, times = 3) {
  const url = process.env.API_URL;
  emitter.on('data', () => {});
  return fn(times, url);
}

program
  .option('-p, --port <n>', 'port to use')
  .option('--verbose', 'say more');

function main() {
  process.exit(1);
}
"""


def test_javascript_signals(tmp_path):
    after = (JS.replace("export function chunk(array, size = 1) {\n  return [array, size];\n}\n\n", "")
             .replace("function internalHelper() {\n  return 1;\n}\n\n", "")
             .replace("times = 3", "times = 5")
             .replace("  const url = process.env.API_URL;\n", "  const url = null;\n")
             .replace("  emitter.on('data', () => {});\n", "")
             .replace("  .option('-p, --port <n>', 'port to use')\n", "")
             .replace("process.exit(1)", "process.exit(2)")
             .replace("export const VERSION", "/**\n * @deprecated use version()\n */\nexport const VERSION"))
    found = signals(tmp_path, {"src/index.js": JS}, {"src/index.js": after})
    assert kinds(found) == {("api_removed", "chunk"), ("default_changed", "retry(times)"),
                            ("env_removed", "API_URL"), ("option_removed", "--port"), ("exit_code_changed", "exit"),
                            ("deprecation_added", "VERSION")}


def test_javascript_minified_and_tests_are_ignored(tmp_path):
    found = signals(tmp_path, {"dist/lib.min.js": JS, "test/index.test.js": JS},
                    {"dist/lib.min.js": "", "test/index.test.js": ""})
    assert found == ()


# ----------------------------------------------------------------------------------------------- Go

GO = """package echo

import (
\t"os"

\t"github.com/spf13/cobra"
\t"github.com/urfave/cli/v2"
)

// ParseConfig reads the configuration.
func ParseConfig(path string) (*Config, error) {
\treturn nil, nil
}

func parseInternal(path string) error {
\treturn nil
}

// Start runs the server.
func (e *Echo) Start(address string) error {
\tif os.Getenv("ECHO_DEBUG") != "" {
\t\tos.Exit(1)
\t}
\treturn nil
}

func register(cmd *cobra.Command) {
\tcmd.Flags().StringVarP(&output, "output", "o", "", "where to write")
\tcmd.Flags().BoolVar(&dryRun, "dry-run", false, "do nothing")
}

var flags = []cli.Flag{
\t&cli.BoolFlag{
\t\tName:  "verbose",
\t\tUsage: "say more",
\t},
}
"""


def test_go_signals_in_root_level_source(tmp_path):
    after = (GO.replace("// ParseConfig reads the configuration.\nfunc ParseConfig(path string) (*Config, error) {\n"
                        "\treturn nil, nil\n}\n\n", "")
             .replace("func parseInternal(path string) error {\n\treturn nil\n}\n\n", "")
             .replace('\tif os.Getenv("ECHO_DEBUG") != "" {\n\t\tos.Exit(1)\n\t}\n',
                      '\tif debug {\n\t\tos.Exit(3)\n\t}\n')
             .replace('\tcmd.Flags().StringVarP(&output, "output", "o", "", "where to write")\n', "")
             .replace('"dry-run", false,', '"dry-run", true,')
             .replace('\t&cli.BoolFlag{\n\t\tName:  "verbose",\n\t\tUsage: "say more",\n\t},\n', "")
             .replace("// Start runs the server.\n", "// Start runs the server.\n//\n// Deprecated: use StartServer.\n"))
    found = signals(tmp_path, {"echo.go": GO}, {"echo.go": after})
    assert kinds(found) == {("api_removed", "ParseConfig"), ("env_removed", "ECHO_DEBUG"),
                            ("exit_code_changed", "exit"), ("option_removed", "--output"),
                            ("option_removed", "--verbose"), ("deprecation_added", "Start"),
                            ("default_changed", "--dry-run")}


def test_go_internal_and_tests_are_not_api(tmp_path):
    after = GO.replace("func ParseConfig(path string) (*Config, error) {\n\treturn nil, nil\n}\n\n", "")
    assert kinds(signals(tmp_path, {"internal/conf/conf.go": GO, "echo_test.go": GO},
                         {"internal/conf/conf.go": after, "echo_test.go": after})) == set()


# ----------------------------------------------------------------------------------------------- PHP

PHP = """<?php

namespace Composer\\Advisory;

class Auditor
{
    public const STATUS_OK = 0;
    public const STATUS_FAILED = 8;

    /** @var bool */
    private $sourceFallback = true;

    public function audit(array $packages, bool $strict = false): int
    {
        if (getenv('COMPOSER_AUDIT_STRICT')) {
            return self::STATUS_FAILED;
        }
        return self::STATUS_OK;
    }

    public function getMatchingEntries(array $packages): array
    {
        return [];
    }

    private function calculateBitmask(bool $vulnerable): int
    {
        return 0;
    }

    protected function configure(): void
    {
        $this->addOption('no-progress', null, InputOption::VALUE_NONE, 'Hide progress');
        $this->addOption('format', 'f', InputOption::VALUE_REQUIRED, 'Output format', 'table');
    }
}
"""


def test_php_signals(tmp_path):
    after = (PHP.replace("STATUS_FAILED = 8;", "STATUS_FAILED = 1;")
             .replace("$sourceFallback = true;", "$sourceFallback = false;")
             .replace("bool $strict = false", "bool $strict = true")
             .replace("        if (getenv('COMPOSER_AUDIT_STRICT')) {\n", "        if ($strict) {\n")
             .replace("    public function getMatchingEntries(array $packages): array\n    {\n        return [];\n"
                      "    }\n\n", "")
             .replace("    private function calculateBitmask(bool $vulnerable): int\n    {\n        return 0;\n"
                      "    }\n\n", "")
             .replace("        $this->addOption('no-progress', null, InputOption::VALUE_NONE, 'Hide progress');\n", "")
             .replace("'Output format', 'table');", "'Output format', 'json');")
             .replace("    public function audit(",
                      "    /**\n     * @deprecated use run()\n     */\n    public function audit("))
    found = signals(tmp_path, {"src/Composer/Advisory/Auditor.php": PHP},
                    {"src/Composer/Advisory/Auditor.php": after})
    assert kinds(found) == {
        ("exit_code_changed", "STATUS_FAILED"), ("default_changed", "sourceFallback"),
        ("default_changed", "audit(strict)"), ("env_removed", "COMPOSER_AUDIT_STRICT"),
        ("api_removed", "Auditor::getMatchingEntries"), ("option_removed", "--no-progress"),
        ("default_changed", "--format"), ("deprecation_added", "audit"),
    }


def test_php_reading_an_option_is_not_defining_it(tmp_path):
    before = "<?php\nfunction run($input) {\n    $x = $input->getOption('source-fallback');\n    return $x;\n}\n"
    after = "<?php\nfunction run($input) {\n    return null;\n}\n"
    assert kinds(signals(tmp_path, {"src/Run.php": before}, {"src/Run.php": after})) == set()


def test_php_trigger_deprecation(tmp_path):
    before = "<?php\nclass A\n{\n    public function old(): void\n    {\n    }\n}\n"
    after = ("<?php\nclass A\n{\n    public function old(): void\n    {\n"
             "        trigger_deprecation('vendor/pkg', '2.1', 'The \"%s()\" method is deprecated.', __METHOD__);\n"
             "    }\n}\n")
    assert kinds(signals(tmp_path, {"src/A.php": before}, {"src/A.php": after})) == {("deprecation_added", "old")}


def test_php_deprecated_class_constant_names_the_constant(tmp_path):
    # composer: "/** @deprecated Use ListPolicyConfig::AUDIT_IGNORE instead */" above a class constant
    before = "<?php\nclass Auditor\n{\n    public const ABANDONED_IGNORE = 'ignore';\n}\n"
    after = ("<?php\nclass Auditor\n{\n    /** @deprecated Use ListPolicyConfig::AUDIT_IGNORE instead */\n"
             "    public const ABANDONED_IGNORE = ListPolicyConfig::AUDIT_IGNORE;\n}\n")
    found = kinds(signals(tmp_path, {"src/Auditor.php": before}, {"src/Auditor.php": after}))
    assert ("deprecation_added", "ABANDONED_IGNORE") in {(k, n.rsplit("::", 1)[-1]) for k, n in found}
    assert ("deprecation_added", "Auditor") not in found


# ----------------------------------------------------------------------------------------------- Java

JAVA = """package com.example;

import picocli.CommandLine.Option;

public class Injector {
    private int retries = 3;

    @Option(names = {"-v", "--verbose"}, description = "Say more")
    boolean verbose;

    public Object getInstance(Class<?> type) {
        String home = System.getenv("INJECTOR_HOME");
        return null;
    }

    public void injectMembers(Object instance) {
    }

    private void helper() {
    }

    public static void main(String[] args) {
        System.exit(1);
    }
}
"""


def test_java_signals(tmp_path):
    after = (JAVA.replace("retries = 3;", "retries = 5;")
             .replace('    @Option(names = {"-v", "--verbose"}, description = "Say more")\n    boolean verbose;\n\n', "")
             .replace('        String home = System.getenv("INJECTOR_HOME");\n', "")
             .replace("    public void injectMembers(Object instance) {\n    }\n\n", "")
             .replace("    private void helper() {\n    }\n\n", "")
             .replace("System.exit(1);", "System.exit(2);")
             .replace("    public Object getInstance(", "    @Deprecated\n    public Object getInstance("))
    found = signals(tmp_path, {"core/src/com/example/Injector.java": JAVA},
                    {"core/src/com/example/Injector.java": after})
    assert kinds(found) == {("default_changed", "retries"), ("option_removed", "--verbose"),
                            ("env_removed", "INJECTOR_HOME"), ("api_removed", "Injector.injectMembers"),
                            ("exit_code_changed", "exit"), ("deprecation_added", "getInstance")}


# ----------------------------------------------------------------------------------------------- Ruby

RUBY = """module Jekyll
  class Site
    def initialize(config = {}, strict: false)
      @dest = ENV["JEKYLL_DEST"]
    end

    def process
      render
    end

    def cleanup
      true
    end

    private

    def render_pages
      true
    end
  end

  def self.parse(argv)
    OptionParser.new do |opts|
      opts.on("-v", "--[no-]verbose", "Run verbosely") { |v| @verbose = v }
      opts.on("--trace", "Show the full backtrace") { @trace = true }
    end
    exit 1
  end
end
"""


def test_ruby_signals(tmp_path):
    after = (RUBY.replace("strict: false)", "strict: true)")
             .replace('      @dest = ENV["JEKYLL_DEST"]\n', "      @dest = nil\n")
             .replace("    def cleanup\n      true\n    end\n\n", "")
             .replace("    def render_pages\n      true\n    end\n", "")
             .replace('      opts.on("-v", "--[no-]verbose", "Run verbosely") { |v| @verbose = v }\n', "")
             .replace("exit 1", "exit 2")
             .replace("    def process\n      render\n",
                      '    def process\n      warn "Site#process is deprecated, use Site#build"\n      render\n'))
    found = signals(tmp_path, {"lib/jekyll/site.rb": RUBY}, {"lib/jekyll/site.rb": after})
    assert kinds(found) == {("default_changed", "initialize(strict)"), ("env_removed", "JEKYLL_DEST"),
                            ("api_removed", "cleanup"), ("option_removed", "--verbose"),
                            ("exit_code_changed", "exit"), ("deprecation_added", "process")}


# ----------------------------------------------------------------------------------------------- docs

def test_docs_that_stop_documenting_an_env_var_or_flag(tmp_path):
    doc = ("# CLI\n\n## install\n\n* **--source-fallback / --no-source-fallback:** Override the setting.\n"
           "* **--dry-run:** Do nothing.\n\n### COMPOSER_SOURCE_FALLBACK\n\nIf set to 0 ...\n\n### COMPOSER_HOME\n")
    after = doc.replace("* **--source-fallback / --no-source-fallback:** Override the setting.\n", "").replace(
        "### COMPOSER_SOURCE_FALLBACK\n\nIf set to 0 ...\n\n", "")
    found = signals(tmp_path, {"doc/03-cli.md": doc}, {"doc/03-cli.md": after})
    assert {(s.kind, s.name, s.where, s.strength) for s in found} == {
        ("option_removed", "--source-fallback", "docs", "weak"),
        ("env_removed", "COMPOSER_SOURCE_FALLBACK", "docs", "weak")}


# ----------------------------------------------------------------------------------------------- text

def test_security_markers_in_text():
    strong = text_signals("Merge commit from fork", "request context tracks session access")
    assert [(s.name, s.where, s.strength) for s in strong] == [("Merge commit from fork", "subject", "strong")]
    found = text_signals("Fix header parsing", "See https://github.com/o/r/security/advisories/GHSA-68rp-wp8r-4726\n"
                         "Also CVE-2026-1234.")
    assert {(s.name, s.strength) for s in found} == {("GHSA-68rp-wp8r-4726", "strong"), ("CVE-2026-1234", "strong")}
    weak = text_signals("Prevent path traversal in bin paths")
    assert [(s.name, s.strength) for s in weak] == [("path traversal", "weak")]
    entry = ChangelogEntry("CHANGELOG.md", 3, "* Security: Hardened URL output", "Hardened URL output", "security",
                           "tag", None, "2.10.0", ())
    assert [(s.name, s.where) for s in text_signals("Update changelog", entries=[entry])] == [
        ("security entry", "changelog")]


def test_security_negatives():
    for subject in ("Avoid Packagist guidance for non-Packagist advisories",
                    "FilterLists: add warning in case security advisories cannot be fetched",
                    "Merge branch 'stable'", "Update the security policy link in README"):
        assert text_signals(subject) == (), subject
