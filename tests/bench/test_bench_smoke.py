"""The benchmark scripts at tiny sizes, so that they cannot rot: ``bench/run.py`` runs
every scenario on SQLite (and two on PostgreSQL) and its JSON must be complete and
sane. No timing is asserted: figures from a test run mean nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.databases import PG_ADMIN_URL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 10
LATENCY_RATE = 20
LATENCY_SECONDS = 1
BATCH_EVENTS = 1_000
FANOUT = 200
NON_MATCHING = (10, 200)
FILTERED = 10
SUBSCRIPTIONS = 200
BACKLOG = 1_600
FAILURE_EVENTS = 20
REPORT_ROWS = 1_000
TINY = [
    "--events", str(EVENTS), "--runs", "1",
    "--rates", str(LATENCY_RATE), "--seconds", str(LATENCY_SECONDS),
    "--ingest-runs", "1", "--batch-events", str(BATCH_EVENTS),
    "--single-requests", "50", "--single-seconds", "5",
    "--fanout-subscriptions", str(FANOUT), "--fanout-runs", "1",
    "--routing-events", "20", "--non-matching", ",".join(map(str, NON_MATCHING)),
    "--filtered", str(FILTERED),
    "--count", str(SUBSCRIPTIONS), "--list-runs", "1",
    # The window ends once the whole backlog is attempted; the seconds only bound it.
    "--backlog", str(BACKLOG), "--backlog-seconds", "60", "--backlog-deliveries", str(BACKLOG),
    "--failure-events", str(FAILURE_EVENTS), "--failure-runs", "1",
    "--report-rows", str(REPORT_ROWS),
]  # fmt: skip

Results = dict[str, list[dict[str, Any]]]


def run_bench(directory: Path, *args: str) -> tuple[Results, str]:
    """``bench/run.py`` with ``args``; its collected JSON and the RESULTS.md it wrote."""
    output, collected = directory / "RESULTS.md", directory / "results.json"
    environment = {**os.environ, "WAYPOST_BENCH_PG_URL": PG_ADMIN_URL}
    environment["PATH"] = environment.get("PATH", "") + ":/usr/sbin:/sbin"
    completed = subprocess.run(
        [sys.executable, "bench/run.py", *args, "--output", str(output), "--json", str(collected)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results: Results = json.loads(collected.read_text())
    return results, output.read_text()


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, str]:
    return run_bench(tmp_path_factory.mktemp("bench"), *TINY, "--databases", "sqlite")


def one(results: Results, scenario: str, system: str) -> dict[str, Any]:
    [result] = [r for r in results[scenario] if r["system"] == system]
    return result


def assert_rss(result: dict[str, Any], roles: set[str]) -> None:
    peaks = result["peak_rss_mb"]
    assert set(peaks) == roles
    assert all(value > 0 for value in peaks.values())


def test_results_md_has_every_section(sqlite_run: tuple[Results, str]) -> None:
    _, markdown = sqlite_run
    for heading in (
        "## 1. Sustained delivery",
        "## 2. Ingest-to-first-byte latency",
        "## 3. Ingest",
        "## 4. Fan-out",
        "## 5a. Routing",
        "## 5b. Subscriptions at scale",
        "## 5c. Delivery with a backlog",
        "## 6. Failure mix",
        "## Undelivered Webhooks Report",
    ):
        assert heading in markdown
    assert "No figures" not in markdown
    assert "Failed or timed out" not in markdown


def test_delivery(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    raw = one(results, "delivery", "raw loop")
    assert raw["requests"] == EVENTS * 5
    assert raw["per_second_median"] > 0
    for system in ("sqlite", "sqlite-full"):
        result = one(results, "delivery", system)
        assert result["deliveries"] == EVENTS * 5
        assert result["all_delivered"]
        assert result["attempts_runs"] == [EVENTS * 5]
        assert_rss(result, {"serve"})
    assert one(results, "delivery", "sqlite-full")["settings"]["sqlite_synchronous"] == "FULL"


def test_latency(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    sent = LATENCY_RATE * LATENCY_SECONDS
    raw = one(results, "latency", "raw loop")
    assert raw["requests"] == sent
    assert raw["errors"] == 0
    result = one(results, "latency", "sqlite")
    # No event starts after the duration, so a slow moment may send fewer, never more.
    assert 0 < result["events"] <= sent
    assert result["received"] == result["events"]
    assert not result["refused"]
    assert result["p50_ms"] <= result["p99_ms"]
    assert_rss(result, {"serve"})


def test_ingest(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "ingest", "sqlite")
    assert result["batch_events"] == BATCH_EVENTS
    assert result["refused"] == 0
    assert result["accepted"] > BATCH_EVENTS  # the batch and some single events
    assert result["stored"] == result["accepted"]
    assert result["durable"]
    assert_rss(result, {"serve"})


def test_fanout(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "fanout", "sqlite")
    assert result["subscriptions"] == FANOUT
    assert result["all_delivered"]
    assert result["delivered_runs"] == [FANOUT]
    assert result["accepted_ms_median"] > 0
    assert_rss(result, {"serve"})


def check_routing(result: dict[str, Any]) -> None:
    steps = result["steps"]
    assert [step["non_matching"] for step in steps] == [*NON_MATCHING, NON_MATCHING[-1] + FILTERED]
    assert [step["excluded_by_filter"] for step in steps] == [0, 0, FILTERED]
    assert all(step["deliveries_per_event"] == result["matching"] for step in steps)
    assert all(step["events_per_second_median"] > 0 for step in steps)


def test_routing(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    check_routing(one(results, "routing", "sqlite"))


def test_subscriptions(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "subscriptions", "sqlite")
    assert result["count"] == SUBSCRIPTIONS
    assert result["lookups"] > 0
    assert result["peak_rss_mb"] > 0


def test_backlog(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "backlog", "sqlite")
    assert result["backlog"] == BACKLOG
    assert result["attempts_before_window"] + result["attempts"] == BACKLOG
    assert result["delivered_total"] == BACKLOG
    assert result["pending_after"] == 0
    assert_rss(result, {"serve"})


def test_failures(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "failures", "sqlite")
    assert result["subscriptions"] == {"healthy": 17, "failing": 2, "slow": 1}
    assert result["healthy_deliveries"] == FAILURE_EVENTS * 17
    assert result["all_healthy_delivered"]
    [codes] = result["attempts_by_status_code"]
    assert codes["200"] == FAILURE_EVENTS * 17
    assert codes["503"] >= FAILURE_EVENTS * 2
    assert_rss(result, {"serve"})


def test_reports(sqlite_run: tuple[Results, str]) -> None:
    results, _ = sqlite_run
    result = one(results, "reports", "sqlite")
    assert result["rows"] == REPORT_ROWS
    assert result["csv_rows"] == REPORT_ROWS
    assert result["complete"]


def postgresql_available() -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError):
        if os.environ.get("CI") == "true":
            raise
        return False
    return True


def test_postgresql_fanout_and_routing(tmp_path: Path) -> None:
    """The PostgreSQL deployment (one api, two workers) and seeding, where it is cheap."""
    if not postgresql_available():
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL}")
    results, markdown = run_bench(
        tmp_path, *TINY, "--databases", "postgresql", "--only", "fanout,routing"
    )
    result = one(results, "fanout", "postgresql")
    assert result["all_delivered"]
    assert result["delivered_runs"] == [FANOUT]
    assert_rss(result, {"api", "worker1", "worker2"})
    check_routing(one(results, "routing", "postgresql"))
    assert "## 4. Fan-out" in markdown
