"""Run Squall's benchmarks: `python -m bench` runs them all, `python -m bench cold_start burst` some."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

BENCHMARKS = ("cold_start", "warm_throughput", "memory", "burst", "queue_throughput", "schedule_accuracy", "object_latency")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="run with small counts, to check that the benchmarks work")
    options = parser.parse_args(argv)
    unknown = [name for name in options.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; expected one of {', '.join(BENCHMARKS)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    names = options.names or list(BENCHMARKS)
    # On a terminal a bar shows which benchmark runs and how many are done;
    # the benchmarks' own output scrolls above it.
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        disable=not sys.stdout.isatty(),
    ) as progress:
        overall = progress.add_task("benchmarks", total=len(names))
        for name in names:
            started = time.monotonic()
            progress.update(overall, description=f"running {name}")
            print(f"== {name}", flush=True)
            module = importlib.import_module(f"bench.{name}")
            module.run(quick=options.quick)
            print(f"== {name} took {time.monotonic() - started:.0f} s", flush=True)
            progress.advance(overall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
