"""The 2022 article's CPU experiment ("Python Multithreading and Multiprocessing"), in Python.

A task is a loop of plain integer increments: pure CPU, no I/O. Each workload is run under
four ways of running tasks:

- sequential: every task in turn, in this process;
- threads:    one threading.Thread per task, all started, then all joined;
- processes:  one forked multiprocessing.Process per task, all started, then all joined;
- pool:       multiprocessing.Pool(os.cpu_count()).map, pool start-up and shutdown timed too.

Two workloads show the two lessons of the article. 100 tasks x 1,000,000 increments: threads
are no faster than sequential because the GIL lets one thread run Python at a time, while
processes use every core. 1,000 tasks x 100 increments: the work is tiny, so one process per
task is dominated by process creation, and a pool of one process per core is the fix.

Every result is checked (forked children report it in their exit status); a run that lost
work exits 1. Used by `cargo bench --bench article`. Output: one JSON line per (workload,
mode) on stdout, diagnostics on stderr:
  {"lang": "python", "mode": ..., "tasks": N, "increments": M, "seconds": float,
   "python": "3.11.7", "cores": C}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import threading
import time
from collections.abc import Callable

WORKLOADS: dict[str, tuple[int, int]] = {"large": (100, 1_000_000), "small": (1000, 100)}
MODES: tuple[str, ...] = ("sequential", "threads", "processes", "pool")


def work(n: int) -> int:
    """One task: n plain increments, as in the article."""
    x = 0
    for _ in range(n):
        x += 1
    return x


def _child(n: int) -> None:
    """Body of a forked process: report through the exit status whether the work was right."""
    sys.exit(0 if work(n) == n else 1)


def run_sequential(tasks: int, n: int) -> int:
    return sum(work(n) for _ in range(tasks))


def run_threads(tasks: int, n: int) -> int:
    results = [0] * tasks

    def body(i: int) -> None:
        results[i] = work(n)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(tasks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(results)


def run_processes(tasks: int, n: int) -> int:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(n,)) for _ in range(tasks)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return sum(n for p in procs if p.exitcode == 0)


def run_pool(tasks: int, n: int) -> int:
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(os.cpu_count())
    try:
        return sum(pool.map(work, [n] * tasks))
    finally:
        pool.close()
        pool.join()


RUNNERS: dict[str, Callable[[int, int], int]] = {
    "sequential": run_sequential,
    "threads": run_threads,
    "processes": run_processes,
    "pool": run_pool,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the article's CPU experiment (GIL vs processes) and print JSON lines."
    )
    parser.add_argument(
        "--workload",
        choices=("small", "large", "both"),
        default="both",
        help="small = 1,000 tasks x 100 increments; large = 100 tasks x 1,000,000 (default both)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated subset of {','.join(MODES)} (default all)",
    )
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        what = f"unknown mode(s) {','.join(unknown)}" if unknown else "no mode given"
        parser.error(f"--modes: {what}; choose from {','.join(MODES)}")
    args.modes = list(dict.fromkeys(modes))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    forks = {"processes", "pool"} & set(args.modes)
    if forks and "fork" not in multiprocessing.get_all_start_methods():
        print("error: the fork start method is not available on this platform", file=sys.stderr)
        return 2
    names = ["large", "small"] if args.workload == "both" else [args.workload]
    cores = os.cpu_count()
    for name in names:
        tasks, n = WORKLOADS[name]
        for mode in args.modes:
            print(f"{mode}: {tasks} tasks x {n} increments ...", file=sys.stderr)
            started = time.perf_counter()
            got = RUNNERS[mode](tasks, n)
            seconds = time.perf_counter() - started
            if got != tasks * n:
                print(f"error: {mode} lost work: got {got}, expected {tasks * n}", file=sys.stderr)
                return 1
            record = {
                "lang": "python",
                "mode": mode,
                "tasks": tasks,
                "increments": n,
                "seconds": seconds,
                "python": platform.python_version(),
                "cores": cores,
            }
            # Flushed now so that forked children, which flush stdout on exit, cannot repeat it.
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
