"""``warmstep dev``: the whole service on one machine, supervised by one process.

It starts an embedded Redis (unless ``REDIS_URL`` is set), the front end and one worker as child
processes, prints where everything listens, and on Ctrl-C or SIGTERM stops the children in order
(front end and worker first, Redis last so it can flush its AOF). Children get
``PR_SET_PDEATHSIG`` so that even a SIGKILL of this process leaves no orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from service.auth import redact_url
from service.embedded_redis import EmbeddedRedis, die_with_parent
from warmstep.config import Settings


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", command], env=env, preexec_fn=die_with_parent
    )


def _stop(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_dev(settings: Settings) -> int:
    stop = threading.Event()

    def request_stop(_: int, __: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(Path(settings.data_dir) / "redis")
        embedded.start()
        redis_url = embedded.url
        print(f"warmstep dev: embedded Redis {redis_url} (AOF in {embedded.data_dir})", flush=True)
    else:
        print(f"warmstep dev: using Redis {redact_url(redis_url)}", flush=True)
    env = {**os.environ, "REDIS_URL": redis_url}
    children = [_spawn("serve", env), _spawn("worker", env)]
    print("warmstep dev: Ctrl-C stops everything", flush=True)
    try:
        while not stop.wait(0.5):
            if any(child.poll() is not None for child in children):
                print("warmstep dev: a child exited; stopping", file=sys.stderr, flush=True)
                break
    finally:
        for child in children:
            _stop(child, timeout_s=15)
        if embedded is not None:
            embedded.stop()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stop.is_set() else 0
