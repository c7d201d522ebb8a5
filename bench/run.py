"""Run every benchmark in sequence and write bench/RESULTS.md (``make bench``).

Runs bench/delivery.py, bench/latency.py and bench/subscriptions.py, each in
its own process group with a time limit, collects the JSON lines they print,
and writes the tables with the machine, the package versions and the command.
The collected figures are also kept in bench/out/results.json.

Usage: python bench/run.py [--events N] [--runs R] [--rates 200,50] [--seconds S]
                           [--count N] [--list-runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import OUT, PG_ADMIN_URL, machine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PACKAGES = (
    "waypost",
    "fastapi",
    "starlette",
    "uvicorn",
    "httptools",
    "uvloop",
    "pydantic",
    "SQLAlchemy",
    "aiosqlite",
    "asyncpg",
    "aiohttp",
    "orjson",
)
# Per script; far above what the defaults take (about 6, 4 and 5 minutes).
SCRIPT_TIMEOUT = 1800

Result = dict[str, Any]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_script(name: str, *args: str) -> list[Result]:
    """Run one benchmark script; its JSON lines. Its progress goes to our stderr."""
    command = [sys.executable, str(BENCH / name), *args]
    log(f"$ {shlex.join(command)}")
    started = time.monotonic()
    # Its own process group, so that whatever it started can be ended with it.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=SCRIPT_TIMEOUT)
    except BaseException:
        # Time is up, or Ctrl-C: SIGINT lets the script stop what it started, then the
        # group is ended in case anything is left.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{name} exited with {process.returncode}")
    log(f"{name}: {time.monotonic() - started:.0f} s")
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


async def _postgresql_version() -> str:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        version = await connection.fetchval("SHOW server_version")
        autovacuum = await connection.fetchval("SHOW autovacuum")
        return f"{version}, autovacuum {autovacuum}"
    finally:
        await connection.close()


def versions() -> str:
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    parts = [f"{name} {importlib.metadata.version(name)}" for name in PACKAGES]
    parts[0] += f" (git {git or 'unknown'})"
    parts.append(f"SQLite {sqlite3.sqlite_version}")
    parts.append(f"PostgreSQL {asyncio.run(_postgresql_version())}")
    return ", ".join(parts)


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _runs(values: list[Any]) -> str:
    return ", ".join(f"{value:,}" for value in values)


def delivery_section(results: list[Result]) -> list[str]:
    raw = next(result for result in results if result["system"] == "raw loop")
    rows: list[list[object]] = [
        [
            "raw aiohttp loop",
            f"one process, one ClientSession, {raw['concurrency']} concurrent, nothing stored",
            f"**{raw['per_second_median']:,}**",
            _runs(raw["per_second_runs"]),
            "1",
            "",
            "",
            "",
        ]
    ]
    for result in results:
        if result["system"] == "raw loop":
            continue
        rows.append(
            [
                f"waypost, {'SQLite' if result['system'] == 'sqlite' else 'PostgreSQL'}",
                result["deployment"],
                f"**{result['per_second_median']:,}**",
                _runs(result["per_second_runs"]),
                f"{result['ratio_to_raw']:.3f}",
                "yes" if result["all_delivered"] else "**no**",
                f"{result['ingest_events_per_second_median']:,}",
                result["cpu_ms_per_delivery_median"],
            ]
        )
    example = next(result for result in results if result["system"] != "raw loop")
    return [
        "## Delivery throughput",
        "",
        f"{example['events']:,} events x {example['subscriptions']} subscriptions = "
        f"{example['deliveries']:,} deliveries of a 2 KB JSON order per run, events posted "
        "1,000 at a time to `POST /api/v1/events/batch`. Deliveries/s counts from the first "
        "ingest request until the database shows every delivery attempted (polled every "
        "0.1 s), delivered ones only. The raw loop posts the same body to the same receiver "
        f"{raw['requests']:,} times. Receiver: {raw['receiver']}. Each run uses a fresh "
        "database and fresh processes; medians of the runs.",
        "",
        *_table(
            [
                "System",
                "Deployment",
                "Deliveries/s (median)",
                "Runs",
                "Ratio to raw loop",
                "All delivered, once",
                "Ingest events/s",
                "waypost CPU ms per delivery",
            ],
            rows,
        ),
        "",
        "Attempts per run (one per delivery means no retry and no duplicate): "
        + "; ".join(
            f"{result['system']} {_runs(result['attempts_runs'])}"
            for result in results
            if result["system"] != "raw loop"
        )
        + ". CPU is user + system time of the waypost processes during the run "
        "(PostgreSQL's own is not counted), over the deliveries.",
        "",
    ]


def _latency_row(result: Result) -> list[object]:
    achieved = f"{result['achieved_rate']:g}"
    if result["system"] == "raw loop":
        return [
            "raw aiohttp loop: round trip (one way)",
            achieved,
            f"{result['requests'] - result['errors']:,}",
            *(f"{result[k]} ({result['one_way_' + k]})" for k in ("p50_ms", "p95_ms", "p99_ms")),
            f"{result['max_ms']} ({result['one_way_max_ms']})",
            "",
        ]
    name = "SQLite" if result["system"] == "sqlite" else "PostgreSQL"
    refused = sum(result["refused"].values())
    return [
        f"waypost, {name}: {result['deployment']}",
        achieved,
        f"{result['received']:,} of {result['events']:,}"
        + (f" ({refused} refused)" if refused else ""),
        f"**{result.get('p50_ms')}**",
        result.get("p95_ms"),
        f"**{result.get('p99_ms')}**",
        result.get("max_ms"),
        f"{result.get('ingest_p50_ms')} / {result.get('ingest_p99_ms')}",
    ]


def latency_section(results: list[Result]) -> list[str]:
    lines = [
        "## Ingest-to-first-byte latency",
        "",
        "Single `POST /api/v1/events` at a steady rate (open loop, at most 50 in flight: "
        "waypost's per-user limit), one subscription, 2 KB order stamped with "
        "`sent_at = time.time()`; the receiver (aiohttp, its own process) takes "
        "`time.time()` when a delivery's headers arrive. For the raw loop, the round trip "
        "of each request as its sender times it, and in brackets the one-way time as the "
        "same receiver measures it. Ingest 202 is the event POST's own round trip.",
        "",
    ]
    header = [
        "System",
        "Achieved rate",
        "Received",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "Ingest 202 p50 / p99 ms",
    ]
    for rate in dict.fromkeys(result["rate"] for result in results):
        at_rate = [result for result in results if result["rate"] == rate]
        lines += [
            f"### {rate:g} events/s for {at_rate[0]['seconds']:g} s",
            "",
            *_table(header, [_latency_row(result) for result in at_rate]),
            "",
        ]
    return lines


def subscriptions_section(results: list[Result]) -> list[str]:
    rows: list[list[object]] = [
        [
            "SQLite (`serve`)" if result["system"] == "sqlite" else "PostgreSQL (`api`)",
            f"{result['count']:,}",
            result["seed_seconds"],
            f"**{result['list_seconds_median']}** ({_runs(result['list_seconds_runs'])})",
            result["list_mb"],
            f"{result['lookup_ms_p50']} / {result['lookup_ms_p99']}",
            f"{result['rss_before_list_mb']} -> **{result['peak_rss_mb']}**",
        ]
        for result in results
    ]
    count = results[0]["count"]
    return [
        "## Subscriptions at scale",
        "",
        f"{count:,} subscriptions (seeded through the store, 1,000 per transaction), then "
        f"`GET /api/v1/webhooks?limit={count}` and {results[0]['lookups']:,} single "
        "`GET /api/v1/webhooks/{id}`. Server memory: its resident set just before the first "
        "listing, and its peak (VmHWM, reset at that moment) over the listings and lookups. "
        "Listing streams, so the peak stays bounded. On PostgreSQL the seed runs `ANALYZE` "
        "every 10,000 subscriptions, as autovacuum would where it is on.",
        "",
        *_table(
            [
                "Database",
                "Subscriptions",
                "Seed s",
                "List s, median (runs)",
                "List MB",
                "Lookup p50 / p99 ms",
                "Server RSS MB before -> peak while listing",
            ],
            rows,
        ),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="delivery: events per run")
    parser.add_argument("--runs", type=int, default=3, help="delivery: runs")
    parser.add_argument("--rates", default="200,50", help="latency: events a second")
    parser.add_argument("--seconds", type=float, default=20, help="latency: seconds per rate")
    parser.add_argument("--count", type=int, default=150_000, help="subscriptions to list")
    parser.add_argument("--list-runs", type=int, default=3, help="subscriptions: listings")
    args = parser.parse_args()
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(ROOT)
    command = shlex.join([str(python), "bench/run.py", *sys.argv[1:]])
    started = datetime.now(UTC)
    # Before the run: the code measured is the tree as it was when the run began.
    installed = versions()
    load_before = os.getloadavg()[0]
    OUT.mkdir(exist_ok=True)
    scripts = {
        "delivery": ["--events", str(args.events), "--runs", str(args.runs)],
        "latency": ["--rates", args.rates, "--seconds", str(args.seconds)],
        "subscriptions": ["--count", str(args.count), "--runs", str(args.list_runs)],
    }
    results: dict[str, list[Result]] = {}
    for name, script_args in scripts.items():
        results[name] = run_script(f"{name}.py", *script_args)
        # Kept as each script finishes, so a later failure does not lose the figures.
        (OUT / "results.json").write_text(json.dumps(results, indent=1))
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` (`make bench`) on {started:%Y-%m-%d %H:%M} UTC, "
        f"in {minutes:.1f} minutes.",
        "",
        f"- Machine: {machine()}. It is shared: the 1-minute load average was "
        f"{load_before:.2f} just before the run, and other work moves the figures between runs.",
        f"- Versions: {installed}.",
        "- waypost settings: defaults, except `WAYPOST_ALLOW_PRIVATE_TARGETS=1` (the targets "
        "are on 127.0.0.1) and the per-tenant rate limit raised out of the way "
        "(`WAYPOST_RATE_LIMIT_PER_SECOND`, `WAYPOST_RATE_LIMIT_BURST`). The benchmark "
        "client, the receiver, waypost and PostgreSQL share the same cores.",
        "",
        *delivery_section(results["delivery"]),
        *latency_section(results["latency"]),
        *subscriptions_section(results["subscriptions"]),
    ]
    (BENCH / "RESULTS.md").write_text("\n".join(lines))
    log(f"wrote {BENCH / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
