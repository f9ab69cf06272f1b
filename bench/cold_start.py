"""Cold start: request-to-response time of a new instance, against a fresh `python` process.

Method: deploy FUNCTIONS identical functions fn0..fnN-1 that share one
no-op handler, each behind its own route, with a keep-alive of 1 s. Each
round has two phases, both through HTTP on a new TCP connection per request:

- after deploy: the first GET to each route. The pool has no instance, so
  the dispatcher requests one from the function's zygote, which was started
  by the deploy. The new instance imports the handler and the request runs
  on it. A second GET right after is the warm reference.
- after reaping: once the keep-alive has closed every instance, one more GET
  to each route. This is the cold start of a function that has served
  before: a fork of a zygote that has forked already.

Each later round redeploys the folder through the management API, which
replaces every pool and zygote.

Baseline, interleaved with the cold calls: `python -c "import app;
app.handler({}, None)"` in the handler's folder, timed from before the
process is spawned until it has exited (subprocess.run, venv interpreter).

Init Duration is read from the REPORT lines that `GET /_squall/api/logs`
returns; it covers the fork's import of the handler only, so cold minus warm
minus Init Duration is what starting the instance adds to the HTTP path.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    APPS,
    ServerProcess,
    http_get,
    management,
    median,
    print_table,
    squall_server,
    summarize,
    verdict,
    wait_for,
    write_results,
)

logger = logging.getLogger(__name__)

NAME = "cold_start"
GOAL_P50_MS = 5.0
GOAL_RATIO = 0.1
REQUEST_TIMEOUT_S = 30.0
BASELINE_TIMEOUT_S = 30.0
LOGS_TIMEOUT_S = 20.0
KEEP_ALIVE_S = 1
REAP_TIMEOUT_S = 30.0
BASELINE_CODE = "import app; app.handler({}, None)"
SAMPLE_KINDS = ("cold_after_deploy_ms", "warm_ms", "cold_after_reap_ms", "baseline_ms")

_INIT_DURATION = re.compile(r"Init Duration: ([0-9.]+) ms")


def write_folder(folder: Path, functions: int) -> None:
    """Write a service of `functions` identical no-op functions fn0..fnN-1, one route each."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(APPS / "noop" / "app.py", folder / "app.py")
    lines = ["service: bench-cold", "functions:"]
    for index in range(functions):
        lines += [
            f"  fn{index}:",
            "    handler: app.handler",
            f"    keep_alive_s: {KEEP_ALIVE_S}",
            "    events:",
            f'      - http: {{method: GET, path: "/fn{index}"}}',
        ]
    (folder / "squall.yml").write_text("\n".join(lines) + "\n")


def run_baseline(folder: Path) -> float:
    """Return the seconds one fresh interpreter takes to import the handler and call it."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", BASELINE_CODE],
        cwd=folder,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=BASELINE_TIMEOUT_S,
    )
    return time.perf_counter() - started


async def call_each(server: ServerProcess, folder: Path, functions: int, kinds: tuple[str, ...],
                    samples: dict[str, list[Any]]) -> None:
    """GET every function once per kind, in order, and run the baseline once per function."""
    for index in range(functions):
        path = f"/fn{index}"
        for kind in kinds:
            answer = await http_get(server.host, server.port, path, REQUEST_TIMEOUT_S)
            if answer.status != 200:
                samples["failures"].append(f"{kind} {path}: status {answer.status} {answer.error or answer.body[:200]!r}")
                continue
            samples[kind].append(answer.elapsed_s * 1000)
        samples["baseline_ms"].append(run_baseline(folder) * 1000)


def all_reaped(server: ServerProcess) -> bool:
    listed = management(server, "GET", "functions")["functions"]
    return all(f["instances"]["idle"] + f["instances"]["busy"] == 0 for f in listed)


def run_round(server: ServerProcess, folder: Path, functions: int) -> dict[str, list[Any]]:
    """Run both phases on every function and return the samples by kind."""
    samples: dict[str, list[Any]] = {kind: [] for kind in SAMPLE_KINDS} | {"failures": []}
    asyncio.run(call_each(server, folder, functions, ("cold_after_deploy_ms", "warm_ms"), samples))
    wait_for(lambda: all_reaped(server), REAP_TIMEOUT_S, "the keep-alive to close every instance", interval_s=0.1)
    asyncio.run(call_each(server, folder, functions, ("cold_after_reap_ms",), samples))
    return samples


def read_init_durations(server: ServerProcess, expected: int) -> list[float]:
    """Return the Init Duration of every REPORT line, waiting until `expected` are committed."""

    def collect() -> list[float] | None:
        entries = management(server, "GET", "logs?limit=10000")["entries"]
        durations = [float(m.group(1)) for e in entries for m in _INIT_DURATION.finditer(e["text"])]
        return durations if len(durations) >= expected else None

    try:
        return wait_for(collect, LOGS_TIMEOUT_S, f"{expected} REPORT lines with an Init Duration", interval_s=0.2)
    except TimeoutError as error:
        logger.warning("%s; using the ones committed so far", error)
        entries = management(server, "GET", "logs?limit=10000")["entries"]
        return [float(m.group(1)) for e in entries for m in _INIT_DURATION.finditer(e["text"])]


def run(quick: bool = False) -> dict[str, Any]:
    functions = 10 if quick else 50
    rounds = 1 if quick else 4
    samples: dict[str, list[Any]] = {kind: [] for kind in SAMPLE_KINDS} | {"failures": []}
    round_medians: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="squall-bench-cold-") as scratch:
        folder = Path(scratch) / "app"
        write_folder(folder, functions)
        with squall_server(folder, Path(scratch) / "data") as server:
            for round_index in range(rounds):
                if round_index:
                    # A redeploy of changed code replaces every pool and zygote, so each
                    # function is cold again. An unchanged folder would keep the warm
                    # instances, so each round changes one file.
                    (folder / "round.txt").write_text(f"{round_index}\n")
                    management(server, "POST", "deploy", {"folder": str(folder)})
                result = run_round(server, folder, functions)
                for key, values in result.items():
                    samples[key].extend(values)
                round_medians.append({kind: median(result[kind]) for kind in SAMPLE_KINDS})
            cold_count = len(samples["cold_after_deploy_ms"]) + len(samples["cold_after_reap_ms"])
            init_ms = read_init_durations(server, cold_count)

    summaries = {kind: summarize(samples[kind]) for kind in SAMPLE_KINDS}
    cold_all = summarize(samples["cold_after_deploy_ms"] + samples["cold_after_reap_ms"])
    init = summarize(init_ms)
    baseline = summaries["baseline_ms"]
    ratios = {
        "all_p50": cold_all["p50"] / baseline["p50"],
        "all_p99": cold_all["p99"] / baseline["p99"],
        "after_deploy_p50": summaries["cold_after_deploy_ms"]["p50"] / baseline["p50"],
        "after_reap_p50": summaries["cold_after_reap_ms"]["p50"] / baseline["p50"],
    }
    results = {
        "method": (
            f"{functions} identical functions with keep_alive_s {KEEP_ALIVE_S}; per round, the first GET to each "
            "after deploy (then a warm GET), and one more GET to each after the keep-alive closed every instance; "
            f"{rounds} rounds, redeploying between rounds; a new TCP connection per request"
        ),
        "baseline": f"subprocess.run([sys.executable, '-c', {BASELINE_CODE!r}]) timed end to end",
        "functions": functions,
        "rounds": rounds,
        "goals": {"cold_p50_ms": GOAL_P50_MS, "ratio_p50": GOAL_RATIO},
        **summaries,
        "cold_all_ms": cold_all,
        "init_duration_ms": init,
        "ratios": ratios,
        "round_medians": round_medians,
        "failures": samples["failures"],
        "samples": {kind: samples[kind] for kind in SAMPLE_KINDS} | {"init_duration_ms": init_ms},
    }
    path = write_results(NAME, results)

    labels = {
        "cold_after_deploy_ms": "cold, first after deploy",
        "cold_after_reap_ms": "cold, after reaping",
        "warm_ms": "warm",
        "baseline_ms": "fresh python process",
    }
    rows = [[labels[k], summaries[k]["n"], summaries[k]["p50"], summaries[k]["p90"], summaries[k]["p99"], summaries[k]["max"]]
            for k in ("cold_after_deploy_ms", "cold_after_reap_ms", "warm_ms")]
    rows.append(["cold, all", cold_all["n"], cold_all["p50"], cold_all["p90"], cold_all["p99"], cold_all["max"]])
    rows.append(["Init Duration (REPORT)", init["n"], init["p50"], init["p90"], init["p99"], init["max"]])
    rows.append([labels["baseline_ms"], baseline["n"], baseline["p50"], baseline["p90"], baseline["p99"], baseline["max"]])
    print_table("cold start through HTTP, milliseconds", ["", "n", "p50", "p90", "p99", "max"], rows)
    print_table(
        "cold start against the goals",
        ["measure", "value", "goal", ""],
        [
            ["cold p50 ms, all", cold_all["p50"], f"<= {GOAL_P50_MS:g}", verdict(cold_all["p50"], GOAL_P50_MS)],
            ["cold/python p50, all", ratios["all_p50"], f"<= {GOAL_RATIO:g}", verdict(ratios["all_p50"], GOAL_RATIO)],
            ["cold/python p50, after deploy", ratios["after_deploy_p50"], f"<= {GOAL_RATIO:g}",
             verdict(ratios["after_deploy_p50"], GOAL_RATIO)],
            ["cold/python p50, after reaping", ratios["after_reap_p50"], f"<= {GOAL_RATIO:g}",
             verdict(ratios["after_reap_p50"], GOAL_RATIO)],
            ["cold/python p99, all", ratios["all_p99"], "-", ""],
        ],
    )
    if samples["failures"]:
        print(f"{len(samples['failures'])} failed requests, first: {samples['failures'][0]}")
    print(f"results: {path}")
    return results
