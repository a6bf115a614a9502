"""Keeping freed memory: with the thresholds raised, a curve-sized temporary array made again
and again is served from the process's heap, with no fresh page faults (counted by the kernel,
so this is not a timing test). Each case runs in its own interpreter: the setting is global."""

from __future__ import annotations

import subprocess
import sys

import pytest

from warmstep.allocator import keep_freed_memory

_FAULTS = """
import resource, sys
import numpy as np
from warmstep.allocator import keep_freed_memory
keep = int(sys.argv[1])
print(keep_freed_memory(keep))
np.ones(2_000_000).sum()  # first use: faults either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(2_000_000).sum()  # 16 MB made, touched, freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(keep_bytes: int) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, str(keep_bytes)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_kept_memory_is_reused_without_page_faults() -> None:
    set_flag, kept = _faults(256 * 1024 * 1024)
    default_flag, fresh = _faults(0)
    assert (set_flag, default_flag) == ("True", "False")
    # Mapped afresh, every array faults its pages in again (4 KiB pages, or 2 MiB ones where the
    # kernel backs large arrays with transparent huge pages): at least one fault per array.
    assert fresh >= 20
    assert kept * 10 < fresh  # reused: the pages are already there


def test_zero_leaves_the_defaults() -> None:
    assert keep_freed_memory(0) is False
