"""Where a report's time goes: wall time, the main thread's cpu and git's cpu at each stage boundary.

    NARRATOR_CACHE_DIR=$(mktemp -d) python bench/cold_timeline.py SRC /path/to/repo [UNTIL]

Runs the report use case of the narrator in source tree ``SRC`` in this process (``--since 2000-01-01``, the
whole history) with its stages wrapped, writes the JSON to /dev/null and prints after each stage: seconds since
start, the main thread's cpu (``time.thread_time``) and the cpu of every git process so far (``RUSAGE_CHILDREN``).
With an empty cache it shows a cold run: how much of the walk the main thread spent working (judging ahead)
against git, and what is left after the walk on one core. Run it again with the same cache for a warm run.
"""

from __future__ import annotations

import os
import resource
import sys
import time

T0_WALL, T0_CPU = time.time(), time.thread_time()


def mark(what: str) -> None:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{what:26s} wall {time.time() - T0_WALL:6.2f}  main-cpu {time.thread_time() - T0_CPU:6.2f}  "
          f"git-cpu {children.ru_utime + children.ru_stime:6.2f}", flush=True)


def wrap(module, name: str) -> None:
    func = getattr(module, name)

    def run(*args, **kwargs):
        out = func(*args, **kwargs)
        mark("after " + name)
        return out
    setattr(module, name, run)


def main() -> None:
    src, repo = sys.argv[1], sys.argv[2]
    until = sys.argv[3] if len(sys.argv) > 3 else None
    sys.path.insert(0, src)
    import narrator
    assert narrator.__file__.startswith(os.path.abspath(src)), narrator.__file__
    import narrator.app.evidence as evidence
    import narrator.app.report as report
    from narrator.app.session import Session
    from narrator.report.json_out import json_chunks

    for name in ("report_window", "walk", "judge", "build_report", "tags_on"):
        wrap(report, name)
    for name in ("local_evidence", "match_entries", "themes"):
        wrap(evidence, name)
    narrate = Session.narrate

    def narrated(self, *args, **kwargs):
        out = narrate(self, *args, **kwargs)
        if kwargs.get("show_progress", True):  # not the sentences made while git walks
            mark("after narrate")
        return out
    Session.narrate = narrated
    with Session.open(repo) as session:
        built = report.build(session, report.ReportRequest(since="2000-01-01", until=until))
        mark("built")
        with open(os.devnull, "w") as out:
            for chunk in json_chunks(built):
                out.write(chunk)
        mark("json written")


if __name__ == "__main__":
    main()
