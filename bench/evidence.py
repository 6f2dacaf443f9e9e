"""Benchmark: the pure-Python cost of narrator.evidence over a window of commits, against reading the diffs.

For each input it times (CPU seconds of this process, median of ``--rounds``):

  floor     one Python pass touching every diff line (``text.split`` + a prefix test): what any line-based
            reader of the same text pays at least
  parse     ``patch.parse_patch`` of every commit (lockfiles/minified/vendored files dropped by ``wants_hunks``)
  evidence  ``commit.gather`` of every commit (changelog entries, code signals, security markers, path kinds),
            ``importance.score``, ``match.match_entries`` for the changelog-only commits against the 300 commits
            before them, ``describe.describe`` and ``themes.themes`` of the whole window

and prints parse+evidence per 1,000 commits, for 5,000 commits, and the ratio against the floor. For a real
repository the floor is also shown next to the wall time ``git log -p`` took to produce the text (what the
evidence runs on top of).

Inputs:
  synthetic  --commits N (5,000) commits generated in memory with a fixed seed: 1-6 files per commit across
             Python/JS/Go/PHP/Java/Ruby sources, tests, docs, changelogs, lockfiles and CI; realistic hunks with
             definitions, options, env reads and defaults sprinkled in
  real       --repo PATH [--max-count 5000]: ``git log -p -M -U3 --no-merges`` of a clone (read-only)

    python bench/evidence.py
    python bench/evidence.py --repo /work/repos/flask --repo /work/repos/composer
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from narrator.evidence.commit import gather  # noqa: E402
from narrator.evidence.describe import describe  # noqa: E402
from narrator.evidence.importance import score  # noqa: E402
from narrator.evidence.match import match_entries  # noqa: E402
from narrator.evidence.patch import parse_patch  # noqa: E402
from narrator.evidence.paths import wants_hunks  # noqa: E402
from narrator.evidence.themes import themes  # noqa: E402


@dataclass(frozen=True)
class RawCommit:
    sha: str
    subject: str
    body: str
    diff: str


# ------------------------------------------------------------------------------------------- synthetic

CODE = {
    "py": ["def fetch_{n}(url, timeout=10):", "    return client.get(url, timeout=timeout)", "class Loader{n}:",
           "    parser.add_argument('--jobs-{n}', type=int, default=1)", "    token = os.environ.get('APP_{n}')",
           "    if value is None:", "        raise ValueError('bad value')", "    result = compute(items, strict=True)",
           "    warnings.warn('old', DeprecationWarning)", "    retries = 3", "    # keep the order stable",
           "    for item in items:", "        total += item.size", "    return total"],
    "js": ["export function chunk{n}(array, size = 1) {{", "  return array.slice(0, size);", "}}",
           "  const url = process.env.API_{n};", "program.option('--port-{n} <n>', 'port')", "  if (!value) {{",
           "    throw new Error('bad');", "  }}", "  items.forEach((x) => total += x);", "  return total;"],
    "go": ["func Parse{n}(path string) (*Config, error) {{", "\treturn nil, nil", "}}", "\tif err != nil {{",
           "\t\treturn err", "\t}}", '\tcmd.Flags().StringVar(&out, "out-{n}", "", "where")',
           '\tdebug := os.Getenv("APP_{n}")', "\tfor _, f := range files {{", "\t\ttotal += f.Size"],
    "php": ["    public function getEntries{n}(array $packages): array", "    {{", "        return [];", "    }}",
            "    private $fallback{n} = true;", "        $this->addOption('opt-{n}', null, InputOption::VALUE_NONE);",
            "        if (getenv('COMPOSER_{n}')) {{", "        foreach ($packages as $package) {{",
            "            $result[] = $package->getName();", "        }}"],
    "java": ["    public Object getInstance{n}(Class<?> type) {{", "        return null;", "    }}",
             "    private int retries{n} = 3;", "        if (value == null) {{", "            throw new IllegalStateException();",
             "        }}", "        for (Binding b : bindings) {{", "            count++;"],
    "rb": ["    def process_{n}(site, strict: false)", "      render(site)", "    end", '      @dest = ENV["JEKYLL_{n}"]',
           "      opts.on('--trace-{n}', 'trace') {{ @trace = true }}", "      if value.nil?", "        raise ArgumentError",
           "      end", "      items.each {{ |i| total += i }}"],
}
SOURCE_DIRS = {"py": "src/app", "js": "lib", "go": "", "php": "src/App", "java": "core/src/com/example", "rb": "lib/app"}
SUBJECTS = ["Fix {w} handling in {a}", "Add {w} support to {a}", "Update {a} for {w}", "Refactor {a}",
            "Speed up {w} in {a}", "Document {w}", "Remove old {w} code from {a}", "Bump {a} from 1.{n} to 1.{m}"]
WORDS = ["cache", "parser", "timeout", "retry", "export", "login", "config", "plugin", "filter", "policy"]


def _hunk(lines: list[str], rng: random.Random, start: int) -> tuple[str, int]:
    context = [rng.choice(lines).format(n=rng.randint(1, 400)) for _ in range(6)]
    removed = [rng.choice(lines).format(n=rng.randint(1, 400)) for _ in range(rng.randint(0, 8))]
    added = [rng.choice(lines).format(n=rng.randint(1, 400)) for _ in range(rng.randint(0, 10))] or ["    pass"]
    header = f"@@ -{start},{3 + len(removed) + 3} +{start},{3 + len(added) + 3} @@ def section_{start}():"
    body = [" " + c for c in context[:3]] + ["-" + r for r in removed] + ["+" + a for a in added] + \
        [" " + c for c in context[3:]]
    return "\n".join([header] + body), len(added) + 6


def _file(path: str, lines: list[str], rng: random.Random) -> str:
    out = [f"diff --git a/{path} b/{path}", "index 1111111..2222222 100644", f"--- a/{path}", f"+++ b/{path}"]
    at = rng.randint(1, 50)
    for _ in range(rng.randint(1, 3)):
        hunk, size = _hunk(lines, rng, at)
        out.append(hunk)
        at += size + rng.randint(5, 60)
    return "\n".join(out)


def synthetic(commits: int, seed: int = 20260115) -> list[RawCommit]:
    rng = random.Random(seed)
    out = []
    for i in range(commits):
        files = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            ext = rng.choice(list(CODE))
            if roll < 0.55:
                base = SOURCE_DIRS[ext]
                path = f"{base}/mod{rng.randint(1, 60)}.{ext}".lstrip("/")
                files.append(_file(path, CODE[ext], rng))
            elif roll < 0.75:
                files.append(_file(f"tests/test_mod{rng.randint(1, 60)}.{ext}", CODE[ext], rng))
            elif roll < 0.85:
                files.append(_file(f"docs/page{rng.randint(1, 20)}.md", ["Some prose about the {n} feature.",
                                                                          "## Options", "- `--flag-{n}`: does it"], rng))
            elif roll < 0.90:
                entry = [f"-   Fixed {rng.choice(WORDS)} handling when {rng.choice(WORDS)} is set. :issue:`{{n}}`",
                         "    More words about it.", "Version 1.{n}.0", "-------------"]
                files.append(_file("CHANGES.rst", entry, rng))
            elif roll < 0.95:
                files.append(_file("package-lock.json", ['    "version": "1.{n}.0",', '    "resolved": "x-{n}"'] * 3, rng))
            else:
                files.append(_file(".github/workflows/ci.yml", ["    - run: make test-{n}", "      with: {{x: {n}}}"],
                                   rng))
        subject = rng.choice(SUBJECTS).format(w=rng.choice(WORDS), a=rng.choice(WORDS), n=i % 9, m=i % 9 + 1)
        if i % 97 == 0:
            subject += f" (#{1000 + i})"
        out.append(RawCommit(f"{i:040x}", subject, "Longer explanation of the change." if i % 3 else "",
                             "\n".join(files) + "\n"))
    return out


# ------------------------------------------------------------------------------------------- real

def real(repo: str, max_count: int) -> tuple[list[RawCommit], float]:
    start = time.perf_counter()
    proc = subprocess.run(["git", "-C", repo, "-c", "core.quotepath=off", "log", "-p", "-M", "-U3", "--no-merges",
                           "--no-color", f"--max-count={max_count}", "--format=%x00%x00%H%x1f%s%x1f%b%x1e"],
                          capture_output=True, check=True)
    wall = time.perf_counter() - start
    text = proc.stdout.decode("utf-8", "replace")
    out = []
    for chunk in text.split("\x00\x00"):
        if not chunk.strip():
            continue
        head, _, diff = chunk.partition("\x1e")
        sha, subject, body = (head.split("\x1f") + ["", ""])[:3]
        out.append(RawCommit(sha, subject, body.strip(), diff))
    out.reverse()  # oldest first, as a report reads a window
    return out, wall


# ------------------------------------------------------------------------------------------- timing

def floor(commits: list[RawCommit]) -> float:
    start = time.process_time()
    n = 0
    for c in commits:
        for line in c.diff.split("\n"):
            if line[:1] == "+":
                n += 1
    return time.process_time() - start


def run_parse(commits: list[RawCommit]):
    start = time.process_time()
    parsed = [parse_patch(c.diff, wants_hunks) for c in commits]
    return time.process_time() - start, parsed


def run_evidence(commits: list[RawCommit], parsed) -> tuple[float, int, int]:
    start = time.process_time()
    evidences = [gather(c.sha, c.subject, c.body, files) for c, files in zip(commits, parsed)]
    scores = [score(e) for e in evidences]
    matched = 0
    for k, e in enumerate(evidences):
        if e.entries and not e.touches_source:
            matched += len(match_entries(e.entries, commits[max(0, k - 300):k]))
    for e in evidences:
        describe(e.subject, e.body, e.entries)
    found = themes(evidences)
    elapsed = time.process_time() - start
    assert len(scores) == len(commits)
    return elapsed, matched, len(found)


def measure(name: str, commits: list[RawCommit], rounds: int, git_wall: float | None = None) -> None:
    floors, parses, evidences = [], [], []
    matched = found = 0
    for _ in range(rounds):
        floors.append(floor(commits))
        parse_s, parsed = run_parse(commits)
        parses.append(parse_s)
        evidence_s, matched, found = run_evidence(commits, parsed)
        evidences.append(evidence_s)
    f, p, e = (statistics.median(x) for x in (floors, parses, evidences))
    n = len(commits)
    size = sum(len(c.diff) for c in commits) / 1e6
    lines = sum(c.diff.count("\n") for c in commits)
    total = p + e
    print(f"\n{name}: {n} commits, {size:.1f} MB of diff, {lines:,} lines (median of {rounds}, CPU seconds)")
    if git_wall is not None:
        print(f"  git log -p (wall, once)     {git_wall:8.3f} s")
    print(f"  floor (split + test lines)  {f:8.3f} s")
    print(f"  parse                       {p:8.3f} s")
    print(f"  evidence (gather, score, match, describe, themes) {e:8.3f} s")
    print(f"  parse + evidence            {total:8.3f} s  = {1000 * total / n:.2f} ms per commit"
          f" -> {5000 * total / n:.2f} s per 5,000 commits")
    print(f"  ratio to floor              {total / f:8.1f} x" + (f";  to git log -p {total / git_wall:.2f} x"
                                                                 if git_wall else ""))
    print(f"  ({matched} entries matched from changelog-only commits, {found} themes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repo", action="append", default=[])
    parser.add_argument("--max-count", type=int, default=5000)
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args()
    if not args.no_synthetic:
        measure("synthetic", synthetic(args.commits), args.rounds)
    for repo in args.repo:
        commits, wall = real(repo, args.max_count)
        measure(repo, commits, args.rounds, wall)


if __name__ == "__main__":
    main()
