"""Keep freed memory in the process for the next curve or training step (front end and worker).

A long curve makes several temporary arrays of ``8 * steps`` bytes. With glibc's defaults each
one over the mmap threshold is mapped fresh and unmapped when freed, so every pass over it pays
the kernel's page faults and page zeroing again: for a 10^6-step linear schedule that is most of
the time (``python -m bench engine``: get_linear_schedule_with_warmup 8.7 -> 4.1 ms,
PolynomialLR 68 -> 46 ms, on the reference machine). Raising the mmap and trim thresholds makes
such arrays come from, and go back to, the process's heap, reused across requests. A training
step is the same story: its activations and gradients are made and freed at every update, and a
worker's job process that keeps them runs a CPU transformer_lm update ~7% faster (46.4 -> 49.6
upd/s, ``bench/training.py``'s bare loop with and without, same process).

The cost is memory: up to ``keep_bytes`` of freed heap stays with the process instead of going
back to the system (the setting ``malloc_keep_bytes``; 0 leaves glibc's defaults). Arrays larger
than ``keep_bytes`` are still mapped and unmapped on their own. Other C libraries: no-op."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("warmstep.allocator")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 1 << 30  # glibc's ceiling on 64-bit (HEAP_MAX is lower for threads)


def keep_freed_memory(keep_bytes: int) -> bool:
    """Set glibc's mmap and trim thresholds to ``keep_bytes``; True when they were set."""
    if keep_bytes <= 0:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    threshold = min(keep_bytes, _MMAP_THRESHOLD_MAX)
    done = bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, keep_bytes)
    )
    if not done:
        log.warning("mallopt refused the thresholds (%s bytes); glibc defaults kept", keep_bytes)
    return done
