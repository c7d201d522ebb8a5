"""Run every benchmark in sequence and write bench/RESULTS.md (``make bench``).

Runs the scenario scripts (delivery, latency, ingest, fanout, routing,
subscriptions, backlog, failures, reports), each in its own process group with
a time limit, collects the JSON lines they print, and writes the tables with
the machine, the package versions and the command. A script that fails or
runs out of time is named in the results and the others still run. The
collected figures are also kept in bench/out/results.json (``--json``).

The defaults are sized so that the whole run takes under 15 minutes on the
2-core machine of issue 7; every size is an option, and the smoke test
(tests/bench) runs the same code at tiny sizes with ``--databases sqlite``.

Usage: python bench/run.py [--events N] [--runs R] [--rates 500] [--seconds S] ...
                           [--databases sqlite,postgresql] [--output PATH] [--json PATH]
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

from bench.common import NAMES, OUT, PG_ADMIN_URL, machine

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
    "asyncpg",
    "aiohttp",
    "orjson",
)
# Per script; far above what the defaults take (the longest, delivery, about 4 minutes).
SCRIPT_TIMEOUT = 900

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


def _name(system: str) -> str:
    return NAMES.get(system, system)


def _rss(peaks: dict[str, float]) -> str:
    """``{"api": 166.8, "worker1": 170.2}`` as ``api 167, worker1 170``."""
    return ", ".join(f"{role} {value:.0f}" for role, value in peaks.items())


def _bold_runs(value: float, runs: list[Any]) -> str:
    """The median in bold, the runs in brackets."""
    return f"**{value:,}** ({_runs(runs)})"


def _missing(results: list[Result], what: str) -> list[str]:
    return [] if results else [f"_No figures: {what} failed or was not run; see the log._", ""]


def delivery_section(results: list[Result]) -> list[str]:
    raw = next((result for result in results if result["system"] == "raw loop"), None)
    measured = [result for result in results if result["system"] != "raw loop"]
    if raw is None or not measured:
        return ["## 1. Sustained delivery", "", *_missing([], "bench/delivery.py")]
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
            "",
        ]
    ]
    for result in measured:
        rows.append(
            [
                f"waypost, {_name(result['system'])}",
                result["deployment"],
                f"**{result['per_second_median']:,}**",
                _runs(result["per_second_runs"]),
                f"{result['ratio_to_raw']:.3f}",
                "yes" if result["all_delivered"] else "**no**",
                f"{result['ingest_events_per_second_median']:,}",
                result["cpu_ms_per_delivery_median"],
                _rss(result["peak_rss_mb"]),
            ]
        )
    example = measured[0]
    return [
        "## 1. Sustained delivery",
        "",
        f"{example['events']:,} events x {example['subscriptions']} subscriptions = "
        f"{example['deliveries']:,} deliveries of a 2 KB JSON order per run, events posted "
        "1,000 at a time to `POST /api/v1/events/batch`. Deliveries/s counts from the first "
        "ingest request until the database shows every delivery attempted (polled every "
        "0.1 s), delivered ones only; every attempt is persisted. The raw loop posts the same "
        f"body to the same receiver {raw['requests']:,} times. Receiver: {raw['receiver']}. "
        "Each run uses a fresh database and fresh processes; medians of the runs. SQLite runs "
        "in WAL mode: `synchronous=NORMAL` (the default) survives a crash of the process, "
        "`FULL` (`WAYPOST_SQLITE_SYNCHRONOUS=FULL`) also a power loss; both are measured.",
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
                "Peak RSS MB per process",
            ],
            rows,
        ),
        "",
        "Attempts per run (one per delivery means no retry and no duplicate): "
        + "; ".join(f"{r['system']} {_runs(r['attempts_runs'])}" for r in measured)
        + ". CPU is user + system time of the waypost processes during the run "
        "(PostgreSQL's own is not counted), over the deliveries. Peak RSS, in every section: "
        "each waypost process's VmHWM from the moment all were ready (start-up's own peak, "
        "imports and migrations, is reset) to the end of the measurement; the largest over "
        "the runs.",
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
            "",
        ]
    refused = sum(result["refused"].values())
    return [
        f"waypost, {_name(result['system'])}: {result['deployment']}",
        achieved,
        f"{result['received']:,} of {result['events']:,}"
        + (f" ({refused} refused)" if refused else ""),
        f"**{result.get('p50_ms')}**",
        result.get("p95_ms"),
        f"**{result.get('p99_ms')}**",
        result.get("max_ms"),
        f"{result.get('ingest_p50_ms')} / {result.get('ingest_p99_ms')}",
        _rss(result.get("peak_rss_mb", {})),
    ]


def latency_section(results: list[Result]) -> list[str]:
    lines = [
        "## 2. Ingest-to-first-byte latency",
        "",
        "Single `POST /api/v1/events` at a steady rate (open loop, at most 50 in flight: "
        "waypost's per-user limit), one subscription, 2 KB order stamped with "
        "`sent_at = time.time()`; the receiver (aiohttp, its own process) takes "
        "`time.time()` when a delivery's headers arrive. For the raw loop, the round trip "
        "of each request as its sender times it, and in brackets the one-way time as the "
        "same receiver measures it. Ingest 202 is the event POST's own round trip. No event "
        "is sent after the duration, so where waypost cannot keep up the achieved rate is "
        "below the rate asked for. "
        "Target: p50 <= 15 ms, p99 <= 60 ms at 500 events/s (the issue asks 60 s; "
        "the duration used is in the heading).",
        "",
        *_missing(results, "bench/latency.py"),
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
        "Peak RSS MB",
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


def ingest_section(results: list[Result]) -> list[str]:
    rows: list[list[object]] = [
        [
            f"{_name(r['system'])}: {r['deployment']}",
            _bold_runs(r["batch_events_per_second_median"], r["batch_events_per_second_runs"]),
            _bold_runs(r["single_per_second_median"], r["single_per_second_runs"]),
            f"{r['accepted']:,} / {r['stored']:,}" + ("" if r["durable"] else " **differ**"),
            r["refused"],
            _rss(r["peak_rss_mb"]),
        ]
        for r in results
    ]
    lines = ["## 3. Ingest", "", *_missing(results, "bench/ingest.py")]
    if not results:
        return lines
    first = results[0]
    return [
        *lines,
        f"One deployment per database, one subscription to the fast receiver, so the "
        f"dispatcher is delivering every accepted event meanwhile. {first['runs']} rounds, "
        f"each: {first['batch_events']:,} events (2 KB orders) through "
        f"`POST /api/v1/events/batch`, 1,000 per call, {first['batch_clients']} concurrent "
        f"clients; then, once the dispatcher has sent what the batches left pending, "
        f"single `POST /api/v1/events` by {first['single_clients']} concurrent "
        f"clients, up to {first['single_requests']:,} requests or {first['single_seconds']:g} s. "
        "A 202 means the event and its deliveries are committed; at the end the database "
        "holds as many events as 202s were answered. Client: one aiohttp session on the same "
        "cores. Targets: batch >= 15,000 events/s, single >= 1,500 requests/s.",
        "",
        *_table(
            [
                "System",
                "Batch events/s, median (runs)",
                "Single requests/s, median (runs)",
                "202s / events stored",
                "Refused",
                "Peak RSS MB",
            ],
            rows,
        ),
        "",
    ]


def _rate_of(delivery: list[Result], system: str) -> int | None:
    for result in delivery:
        if result["system"] == system:
            rate: int = result["per_second_median"]
            return rate
    return None


def fanout_section(results: list[Result], delivery: list[Result]) -> list[str]:
    rows: list[list[object]] = []
    for r in results:
        sustained = _rate_of(delivery, r["system"])
        rows.append(
            [
                f"{_name(r['system'])}: {r['deployment']}",
                f"{r['subscriptions']:,}",
                _bold_runs(r["accepted_ms_median"], r["accepted_ms_runs"]),
                _bold_runs(r["all_delivered_seconds_median"], r["all_delivered_seconds_runs"]),
                f"{r['per_second_median']:,}",
                f"{r['per_second_median'] / sustained:.2f}" if sustained else "",
                "yes" if r["all_delivered"] else "**no**",
                _rss(r["peak_rss_mb"]),
            ]
        )
    lines = ["## 4. Fan-out", "", *_missing(results, "bench/fanout.py")]
    if not results:
        return lines
    return [
        *lines,
        f"One event (a 2 KB order, `POST /api/v1/events`) to {results[0]['subscriptions']:,} "
        "matching subscriptions, each its own URL on the fast receiver (seeded before the "
        f"deployment starts); {results[0]['runs']} events one after the other, medians. "
        "Time to the 202, and from the post until the database shows all of that event's "
        "deliveries delivered. Targets: 202 within 500 ms; all delivered at the scenario-1 "
        "rate (ratio 1).",
        "",
        *_table(
            [
                "System",
                "Subscriptions",
                "202 ms, median (runs)",
                "All delivered s, median (runs)",
                "Deliveries/s",
                "Ratio to scenario 1",
                "All delivered",
                "Peak RSS MB",
            ],
            rows,
        ),
        "",
    ]


def routing_section(results: list[Result]) -> list[str]:
    rows: list[list[object]] = []
    for r in results:
        first = r["steps"][0]["events_per_second_median"]
        for step in r["steps"]:
            rows.append(
                [
                    _name(r["system"]),
                    f"{step['non_matching']:,}",
                    f"{step['excluded_by_filter']:,}",
                    f"**{step['events_per_second_median']:,}** "
                    f"({_runs(step['events_per_second_runs'])})",
                    step["ms_per_event"],
                    step["deliveries_per_event"],
                    f"{step['events_per_second_median'] / first:.2f}",
                ]
            )
    lines = ["## 5a. Routing with few vs many non-matching subscriptions", ""]
    lines += _missing(results, "bench/routing.py")
    if not results:
        return lines
    counts = [
        step["non_matching"] for step in results[0]["steps"] if not step["excluded_by_filter"]
    ]
    verdicts = "; ".join(
        f"{_name(r['system'])} {r['ratio_largest_to_smallest']:.2f} "
        + ("(within 20 %)" if r["within_20_percent"] else "(**not** within 20 %)")
        for r in results
    )
    first = results[0]
    return [
        *lines,
        "Routing alone (`waypost.services.ingest.route`, what ingest does before writing), "
        f"in-process on waypost's store, one event at a time; {first['matching']} subscriptions "
        "match each `task_created` event (filter and field selection); the non-matching ones are "
        "other parcels' Event Cast subscriptions on the same type, which the routing index "
        f"excludes. Rounds of up to {first['events_per_round']:,} events or "
        f"{first['round_seconds']:g} s, {first['runs']} per step, medians. The last step adds "
        "subscriptions of the same type whose filter does not match: the index cannot exclude "
        f"those, so each event evaluates their filters. Events/s at {counts[-1]:,} over "
        f"events/s at {counts[0]:,} non-matching (target for 100,000 vs 1,000: >= 0.8): "
        f"{verdicts}.",
        "",
        *_table(
            [
                "Database",
                "Non-matching",
                "of which filtered out",
                "Events/s, median (runs)",
                "ms per event",
                "Deliveries planned per event",
                "Ratio to first step",
            ],
            rows,
        ),
        "",
    ]


def subscriptions_section(results: list[Result]) -> list[str]:
    lines = ["## 5b. Subscriptions at scale", "", *_missing(results, "bench/subscriptions.py")]
    if not results:
        return lines
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
        *lines,
        f"{count:,} subscriptions (seeded through the store, 1,000 per transaction), then "
        f"`GET /api/v1/webhooks?limit={count}` and {results[0]['lookups']:,} single "
        "`GET /api/v1/webhooks/{id}`. Server memory: its resident set just before the first "
        "listing, and its peak (VmHWM, reset at that moment) over the listings and lookups. "
        "On PostgreSQL the seed runs `ANALYZE` every 10,000 subscriptions, as autovacuum "
        "would where it is on. Target: the listing in <= 2 s.",
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


def backlog_section(results: list[Result], delivery: list[Result]) -> list[str]:
    lines = ["## 5c. Delivery with a backlog of pending deliveries", ""]
    lines += _missing(results, "bench/backlog.py")
    if not results:
        return lines
    rows: list[list[object]] = []
    for r in results:
        sustained = _rate_of(delivery, r["system"])
        rows.append(
            [
                f"{_name(r['system'])}: {r['deployment']}",
                f"{r['backlog']:,}",
                r["seed_seconds"],
                f"{r['attempts']:,} in {r['window_seconds']} s",
                f"**{r['per_second']:,}**",
                f"{r['per_second'] / sustained:.2f}" if sustained else "",
                f"{r['pending_after']:,}",
                f"**{_rss(r['peak_rss_mb'])}**",
            ]
        )
    first = results[0]
    return [
        *lines,
        f"{first['backlog']:,} pending deliveries due now, spread over "
        f"{first['subscriptions']} subscriptions to the fast receiver, "
        f"{first['payload_bytes']}-byte JSON payloads (smaller than scenario 1's 2 KB, to keep "
        "the seed short): a sixteenth stored through the store as ingest stores them, then "
        "doubled four times inside the database (copies with fresh ids). The deployment "
        "starts on that backlog; the window begins once every process is ready and ends after "
        f"{first['max_seconds']:g} s or {first['max_deliveries']:,} attempts. One run per "
        "database. Target: RSS <= 250 MB for every process.",
        "",
        *_table(
            [
                "System",
                "Backlog",
                "Seed s",
                "Attempts in the window",
                "Deliveries/s",
                "Ratio to scenario 1",
                "Pending after",
                "Peak RSS MB per process",
            ],
            rows,
        ),
        "",
    ]


def failures_section(results: list[Result], delivery: list[Result]) -> list[str]:
    lines = ["## 6. Failure mix", "", *_missing(results, "bench/failures.py")]
    if not results:
        return lines
    rows: list[list[object]] = []
    for r in results:
        sustained = _rate_of(delivery, r["system"])
        counts = r["subscriptions"]
        rows.append(
            [
                f"{_name(r['system'])}: {r['deployment']}",
                f"{counts['healthy']} / {counts['failing']} / {counts['slow']}",
                f"{r['healthy_deliveries']:,}",
                f"**{r['healthy_per_second_median']:,}** ({_runs(r['healthy_per_second_runs'])})",
                f"{sustained:,}" if sustained else "",
                f"**{r['healthy_per_second_median'] / sustained:.2f}**" if sustained else "",
                "yes" if r["all_healthy_delivered"] else "**no**",
                "; ".join(
                    ", ".join(f"{code}: {n:,}" for code, n in sorted(codes.items()))
                    for codes in r["attempts_by_status_code"]
                ),
                _rss(r["peak_rss_mb"]),
            ]
        )
    first = results[0]
    settings = first["settings"]
    return [
        *lines,
        f"{first['events']:,} events (2 KB orders, batch ingest) to "
        f"{sum(first['subscriptions'].values())} subscriptions each: 85 % answer 200 (the fast "
        "receiver), 10 % answer 503 at once, 5 % go to a receiver that waits "
        f"{first['slow_receiver_seconds']} s, beyond waypost's request timeout, set to "
        f"{settings['request_timeout']} s for this scenario (`WAYPOST_REQUEST_TIMEOUT`); "
        f"retries {settings['retry_delays']} s apart (`WAYPOST_RETRY_DELAYS`), so the failing "
        "deliveries come back while the healthy ones are sent. Healthy deliveries/s from the "
        "first ingest request until every healthy delivery is delivered, over scenario 1's "
        "rate on the same database in this invocation (target >= 0.80). Attempts by status "
        "code (`None`: timed out) when the healthy ones were done.",
        "",
        *_table(
            [
                "System",
                "Healthy / 503 / timing out subscriptions",
                "Healthy deliveries",
                "Healthy/s, median (runs)",
                "Scenario 1 rate",
                "Ratio",
                "All healthy delivered",
                "Attempts by status code",
                "Peak RSS MB",
            ],
            rows,
        ),
        "",
    ]


def reports_section(results: list[Result]) -> list[str]:
    lines = ["## Undelivered Webhooks Report", "", *_missing(results, "bench/reports.py")]
    if not results:
        return lines
    rows: list[list[object]] = [
        [
            _name(r["system"]),
            f"{r['rows']:,}",
            r["seed_seconds"],
            f"**{r['build_seconds']}**",
            f"{r['rows_per_second']:,}",
            f"{r['builder_rss_before_mb']} -> **{r['builder_peak_rss_mb']}**",
            f"{r['report_mb']} ({r['csv_mb']} as CSV, {r['report_parts']} parts)",
            "yes" if r["complete"] else "**no**",
        ]
        for r in results
    ]
    return [
        *lines,
        f"A report of {results[0]['rows']:,} failed deliveries ({results[0]['payload_bytes']}-"
        "byte orders), seeded through the store, built by one `ReportWorker.work_once()` in "
        "a process of its own (its peak RSS is the builder's alone), then read back: every "
        "row counted, in order, gzip complete. The 1,000,000-row figure takes longer than "
        "this run allows: `python -m bench.reports --rows 1000000`.",
        "",
        *_table(
            [
                "Database",
                "Rows",
                "Seed s",
                "Build s",
                "Rows/s",
                "Builder RSS MB before -> peak",
                "Report MB",
                "Complete",
            ],
            rows,
        ),
        "",
    ]


SCRIPTS = (
    "delivery",
    "latency",
    "ingest",
    "fanout",
    "routing",
    "subscriptions",
    "backlog",
    "failures",
    "reports",
)


def script_args(args: argparse.Namespace) -> dict[str, list[str]]:
    databases = args.databases
    # Scenario 1 measures SQLite's FULL beside NORMAL wherever SQLite is measured.
    delivery_databases = ",".join(
        [
            kind
            for db in databases.split(",")
            for kind in ([db, "sqlite-full"] if db == "sqlite" else [db])
        ]
    )
    return {
        "delivery": [
            "--events",
            str(args.events),
            "--runs",
            str(args.runs),
            "--databases",
            delivery_databases,
        ],
        "latency": [
            "--rates",
            args.rates,
            "--seconds",
            str(args.seconds),
            "--databases",
            databases,
        ],
        "ingest": [
            "--runs",
            str(args.ingest_runs),
            "--batch-events",
            str(args.batch_events),
            "--single-requests",
            str(args.single_requests),
            "--single-seconds",
            str(args.single_seconds),
            "--databases",
            databases,
        ],
        "fanout": [
            "--subscriptions",
            str(args.fanout_subscriptions),
            "--runs",
            str(args.fanout_runs),
            "--databases",
            databases,
        ],
        "routing": [
            "--events",
            str(args.routing_events),
            "--round-seconds",
            str(args.routing_seconds),
            "--non-matching",
            args.non_matching,
            "--filtered",
            str(args.filtered),
            "--databases",
            databases,
        ],
        "subscriptions": [
            "--count",
            str(args.count),
            "--runs",
            str(args.list_runs),
            "--databases",
            databases,
        ],
        "backlog": [
            "--backlog",
            str(args.backlog),
            "--seconds",
            str(args.backlog_seconds),
            "--deliveries",
            str(args.backlog_deliveries),
            "--databases",
            databases,
        ],
        "failures": [
            "--events",
            str(args.failure_events),
            "--runs",
            str(args.failure_runs),
            "--databases",
            databases,
        ],
        "reports": ["--rows", str(args.report_rows), "--databases", databases],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--only", default=",".join(SCRIPTS), help="scenario scripts to run")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=OUT / "results.json")
    parser.add_argument("--events", type=int, default=5_000, help="delivery: events per run")
    parser.add_argument("--runs", type=int, default=3, help="delivery: runs")
    parser.add_argument("--rates", default="500", help="latency: events a second")
    parser.add_argument("--seconds", type=float, default=15, help="latency: seconds per rate")
    parser.add_argument("--ingest-runs", type=int, default=3)
    parser.add_argument("--batch-events", type=int, default=10_000)
    parser.add_argument("--single-requests", type=int, default=10_000)
    parser.add_argument("--single-seconds", type=float, default=5)
    parser.add_argument("--fanout-subscriptions", type=int, default=10_000)
    parser.add_argument("--fanout-runs", type=int, default=3)
    parser.add_argument("--routing-events", type=int, default=1_000)
    parser.add_argument("--routing-seconds", type=float, default=2, help="routing: round bound")
    parser.add_argument("--non-matching", default="1000,100000")
    parser.add_argument("--filtered", type=int, default=1_000)
    parser.add_argument("--count", type=int, default=150_000, help="subscriptions to list")
    parser.add_argument("--list-runs", type=int, default=3, help="subscriptions: listings")
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--backlog-seconds", type=float, default=20)
    parser.add_argument("--backlog-deliveries", type=int, default=100_000)
    parser.add_argument("--failure-events", type=int, default=1_500)
    parser.add_argument("--failure-runs", type=int, default=1)
    parser.add_argument("--report-rows", type=int, default=50_000)
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
    args.json.parent.mkdir(parents=True, exist_ok=True)
    selected = args.only.split(",")
    results: dict[str, list[Result]] = {name: [] for name in SCRIPTS}
    failed: list[str] = []
    for name, arguments in script_args(args).items():
        if name not in selected:
            continue
        try:
            results[name] = run_script(f"{name}.py", *arguments)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            log(f"{name}: {error}")
            failed.append(f"{name} ({error})")
        # Kept as each script finishes, so a later failure does not lose the figures.
        args.json.write_text(json.dumps(results, indent=1))
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    delivery = results["delivery"]
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
        "(`WAYPOST_RATE_LIMIT_PER_SECOND`, `WAYPOST_RATE_LIMIT_BURST`); scenario 6 also sets "
        "the request timeout and retry delays (see there). The benchmark "
        "client, the receiver, waypost and PostgreSQL share the same cores.",
        "- Deployments: SQLite is one `waypost serve` (API and dispatcher in one process); "
        "PostgreSQL is one `waypost api` and two `waypost worker` processes.",
        "- Sizes are chosen so that `make bench` ends within 15 minutes on this machine; where "
        "they are below the issue's (scenario 1's 100,000 deliveries, scenario 2's 60 s, the "
        "1,000,000-row report), the section says so, and each script takes the full size as "
        "an option (`python bench/<script>.py --help`).",
        *(["- **Failed or timed out:** " + "; ".join(failed) + "."] if failed else []),
        "",
        *delivery_section(delivery),
        *latency_section(results["latency"]),
        *ingest_section(results["ingest"]),
        *fanout_section(results["fanout"], delivery),
        *routing_section(results["routing"]),
        *subscriptions_section(results["subscriptions"]),
        *backlog_section(results["backlog"], delivery),
        *failures_section(results["failures"], delivery),
        *reports_section(results["reports"]),
    ]
    args.output.write_text("\n".join(lines))
    log(f"wrote {args.output}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
