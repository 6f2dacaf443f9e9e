"""Where a report's memory and time go: at each stage boundary of ``narrate report`` (no profiler).

    NARRATOR_CACHE_DIR=$(mktemp -d) python bench/memory_stages.py /path/to/repo [--since 2000-01-01] [--until DAY]

Runs the report use case in this process with each stage wrapped (history, walk, facts, classify, changelog
matching, merged work, themes, judge, narrate, build_report), then writes the JSON to /dev/null, and prints after each: seconds since start, the main thread's cpu (``time.thread_time``), the cpu of
every git process so far (``RUSAGE_CHILDREN``), the current RSS (``/proc/self/statm``) and the peak so far
(``ru_maxrss``). With an empty cache it shows a cold run: how much of the walk the main thread spent working
(judging ahead, ``app/evidence.JudgedAhead``) against git, and what is left after the walk on one core. Run it
twice to see a warm report (facts, evidence and narrations from the cache). The difference between the peak and
the current RSS after a stage is what that stage held only while it ran. Linux only (``/proc``).

    python bench/memory_stages.py /path/to/repo --heap 40

``--heap N`` traces every allocation (``tracemalloc``, about 3x slower: a few minutes at 50,000 commits) and
prints, just before ``build_report`` and after it, the N allocation sites holding the most memory: what a report
keeps per commit, by the line that made it (an ``lru_cache`` or a dict's growth shows at the line that called it).
"""

from __future__ import annotations

import argparse
import linecache
import os
import resource
import time
import tracemalloc
from typing import Any, Callable

_START = time.time()


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def mark(what: str) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    git = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{time.time() - _START:7.2f}s {what:28s} main-cpu {time.thread_time():6.2f}s  "
          f"git-cpu {git.ru_utime + git.ru_stime:6.2f}s  rss {_rss_mib():7.1f} MiB  peak {peak:7.1f} MiB", flush=True)


def _wrapped(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        out = func(*args, **kwargs)
        if kwargs.get("show_progress", True):  # not the sentences of each batch judged while git walks
            size = f"({len(args[1])})" if name == "facts" and len(args) > 1 else ""
            mark(f"after {name}{size}")
        return out
    return run


def heap_sites(when: str, top: int) -> None:
    """The ``top`` allocation sites holding the most memory now (``tracemalloc`` must be tracing)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = snapshot.statistics("lineno")
    print(f"-- held {when}: {sum(s.size for s in stats) / 2**20:.1f} MiB traced", flush=True)
    for stat in stats[:top]:
        frame = stat.traceback[0]
        name = os.path.relpath(frame.filename) if frame.filename.startswith(os.getcwd()) else frame.filename
        print(f"{stat.size / 2**20:8.2f} MiB {stat.count:9,d}  {name}:{frame.lineno}  "
              f"{linecache.getline(frame.filename, frame.lineno).strip()[:80]}", flush=True)


def _traced(func: Callable[..., Any], top: int) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        heap_sites("before build_report", top)
        out = func(*args, **kwargs)
        heap_sites("after build_report", top)
        return out
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo")
    parser.add_argument("--since", default="2000-01-01")
    parser.add_argument("--until")
    parser.add_argument("--heap", type=int, default=0, metavar="N",
                        help="trace allocations; print the N sites holding the most before and after build_report")
    args = parser.parse_args()
    if args.heap:
        tracemalloc.start()
    mark("start")
    import narrator.app.evidence as evidence
    import narrator.app.report as report
    from narrator.app.session import Session
    from narrator.report.json_out import json_chunks

    for name in ("walk", "judge", "build_report_from", "report_window", "tags_on"):
        setattr(report, name, _wrapped(name, getattr(report, name)))
    if args.heap:
        report.build_report_from = _traced(report.build_report_from, args.heap)
    for name in ("match_entries", "_give_merged_work", "theme_groups"):
        setattr(evidence, name, _wrapped(name, getattr(evidence, name)))
    for name in ("history", "facts", "classify", "narrate", "narrations"):
        setattr(Session, name, _wrapped(name, getattr(Session, name)))
    mark("imported")
    with Session.open(args.repo) as session:
        built = report.build(session, report.ReportRequest(since=args.since, until=args.until))
        mark("built")
        with open(os.devnull, "w") as out:
            for chunk in json_chunks(built):
                out.write(chunk)
        mark("json written")


if __name__ == "__main__":
    main()
