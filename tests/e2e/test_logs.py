"""``WAYPOST_LOG_FORMAT=json``: every line ``serve`` writes is one JSON object, with the
attempt's stable fields, and no secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_durability import receiving
from tests.support.deployment import create_tenant, subscribe, wait_until
from tests.support.process import waypost_serve
from tests.support.receiver import Reply

pytestmark = pytest.mark.slow


def test_json_log_lines_carry_the_attempt_fields(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/waypost.db"
    tenant = create_tenant(url)
    with (
        receiving() as receiver,
        waypost_serve(url, tmp_path, log_format="json") as (base_url, process),
        httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {tenant['api_key']}"}
        ) as client,
    ):
        receiver.script("/refuses", [Reply(status=400)])
        secret = subscribe(client, receiver.url("/refuses"))["secret"]
        posted = client.post("/api/v1/events", json={"type": "task_created", "data": {"id": 1}})
        assert posted.status_code == 202
        wait_until(lambda: "attempt_recorded" in process.output(), 30, "no attempt logged")
        output = process.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"time", "level", "logger", "event"} <= set(lines[0])
    attempt = next(line for line in lines if line["event"] == "attempt_recorded")
    assert attempt["tenant_id"] == tenant["tenant_id"]
    assert attempt["attempt"] == 1 and attempt["status_code"] == 400
    assert attempt["outcome"] == "failed" and isinstance(attempt["duration_ms"], float)
    assert {"delivery_id", "webhook_id"} <= set(attempt)
    assert any(line["event"] == "log" for line in lines), "uvicorn's lines are JSON too"
    assert tenant["api_key"] not in output and secret not in output
