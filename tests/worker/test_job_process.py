"""The worker's job process as started: what it reports of its own set-up."""

from __future__ import annotations

from tests.processes import Stack, wait_for


def _banner(stack: Stack) -> str:
    def found() -> str | None:
        for log in sorted(stack.log_dir.glob("worker-*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("warmstep worker "):
                    return line
        return None

    return wait_for(found, "the job process's banner")


def test_the_job_process_keeps_freed_memory_for_the_next_step(stack: Stack) -> None:
    # The default malloc_keep_bytes (256 MiB) applies to training as it does to the front end:
    # a training step makes and frees the same tensors at every update.
    assert "memory keeps up to 256 MiB freed" in _banner(stack)
