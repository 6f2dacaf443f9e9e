"""How the ``narrate`` process asks the C allocator to hand big buffers back: one call, ``tune_allocator()``.

A report reads git's output, diffs and cache rows in buffers of hundreds of kilobytes to megabytes, on three
threads (the walk's drain, the diffs read ahead, the main thread). glibc raises its mmap threshold each time such a
buffer is freed (up to 32 MiB), so later ones are carved from the heap and from one arena per thread, where freed
space stays with the process: numpy's whole history peaked at 250 MiB, of which about 40 MiB was such space. A
fixed threshold (128 KiB, glibc's own starting value) keeps every big buffer in its own mapping, returned when
freed, and two arenas bound the per-thread ones (numpy: 214 MiB with the threshold alone, 207 MiB with both, in
the same time: bench/results-issue12.md, stop 20).

Only the command line calls it (the process is ours; a program importing narrator keeps its own settings).
Where the C library has no ``mallopt`` (musl, macOS, Windows) nothing changes.
"""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold and bound its arenas; whether the C library took both settings."""
    try:  # the C library the interpreter is linked with (no ctypes.util.find_library: it starts a process)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, TypeError, AttributeError):  # no such library handle (Windows), no mallopt (musl, macOS)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_ARENA_MAX, ARENA_MAX))
