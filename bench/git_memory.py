"""The memory of a cold ``narrate report`` and of the git processes it runs, sampled while it runs (Linux).

    python bench/git_memory.py /path/to/repo [--since 2000-01-01] [--src SOURCE_TREE]

Runs one cold report (an empty cache in a temporary directory, JSON to /dev/null) and reads ``/proc/PID/status``
of narrate and of every git process it started, every 0.2 s: the largest ``RssAnon`` (memory of the process's
own) and ``RssFile`` (pages of files it mapped, mostly git's pack files: the system can drop them) seen for
each. ``bench/walk.py`` prints the largest RSS of the run, git included, which counts both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# narrator from the tree given, even where another one is installed in editable mode (its finder comes first)
_BOOT = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()];"
         "sys.path.insert(0, sys.argv.pop(1)); import narrator;"
         "assert narrator.__file__.startswith(sys.path[0]), narrator.__file__;"
         "sys.argv[0] = 'narrate'; runpy.run_module('narrator', run_name='__main__', alter_sys=True)")


def _status(pid: int) -> dict[str, int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if k in ("RssAnon", "RssFile")}
    except (OSError, ValueError):
        return {}


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started, from any of its threads (diffs are read ahead on one of them)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo")
    parser.add_argument("--since", default="2000-01-01")
    parser.add_argument("--src", default=str(ROOT), help="the source tree whose narrator runs (default: this one)")
    args = parser.parse_args()
    peak = {"narrate": [0, 0], "git": [0, 0]}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NARRATOR_CACHE_DIR": cache}
        proc = subprocess.Popen([sys.executable, "-c", _BOOT, args.src, "report", "--repo", args.repo, "--since",
                                 args.since, "--format", "json", "-o", os.devnull], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            for who, pids in (("narrate", [proc.pid]), ("git", _children(proc.pid))):
                for pid in pids:
                    found = _status(pid)
                    peak[who][0] = max(peak[who][0], found.get("RssAnon", 0))
                    peak[who][1] = max(peak[who][1], found.get("RssFile", 0))
            time.sleep(0.2)
    for who, (anon, mapped) in peak.items():
        print(f"{who:8s} own memory (RssAnon) {anon / 1024:7.0f} MiB   mapped files (RssFile) {mapped / 1024:7.0f} MiB")
    print(f"code: {args.src}; exit status {proc.returncode}")


if __name__ == "__main__":
    main()
