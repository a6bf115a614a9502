"""``python -m bench [engine|rest|grpc|training|latency|queue ...] [--tiny] [--profile]
[--kinds library:Name,...]``: run the chosen benchmarks (all by default) and print one table
each, with the machine."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable

from bench._common import FULL, TINY, Size, Table, machine

BENCHMARKS = ("engine", "rest", "grpc", "training", "latency", "queue")


def _runner(name: str, args: argparse.Namespace) -> Callable[[Size], list[Table]]:
    if name == "engine":
        from bench import engine

        only = args.kinds.split(",") if args.kinds else None
        return lambda size: engine.run(size, profile=args.profile, only=only)
    if name == "rest":
        from bench import rest

        return rest.run
    if name == "grpc":
        from bench import grpc_bench

        return grpc_bench.run
    if name == "training":
        from bench import training

        return training.run
    if name == "latency":
        from bench import latency

        return latency.run
    from bench import queue

    return queue.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run, of {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--profile", action="store_true", help="engine: cProfile the kinds that miss the target"
    )
    parser.add_argument(
        "--kinds",
        default=None,
        metavar="LIBRARY:NAME,...",
        help="engine: only these kinds (e.g. fvcore:StepParamScheduler,torch:StepLR)",
    )
    parser.add_argument("--queue-jobs", type=int, default=None, help="queue: how many jobs")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.kinds:
        from bench.engine import selected_kinds

        try:
            selected_kinds(args.kinds.split(","))
        except ValueError as exc:
            parser.error(str(exc))
    size = TINY if args.tiny else FULL
    if args.queue_jobs:
        size = dataclasses.replace(size, queue_jobs=args.queue_jobs)
    names = args.names or list(BENCHMARKS)
    began = time.perf_counter()
    print(
        f"# warmstep benchmarks ({size.name} size)\n\nmachine: {machine()}\n"
        f"command: python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}\n",
        flush=True,
    )
    for name in names:
        start = time.perf_counter()
        for table in _runner(name, args)(size):
            print(table.render(), flush=True)
        print(f"({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    print(f"total {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
