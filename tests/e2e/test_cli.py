"""The command line as a user runs it: migrate, tenants, keys, settings errors."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import create_tenant
from tests.support.process import WAYPOST, waypost_cli, waypost_env, waypost_serve

pytestmark = pytest.mark.slow


def test_migrate_is_repeatable(database_url: str) -> None:
    waypost_cli(database_url, "migrate")
    waypost_cli(database_url, "migrate")


def test_keys_are_listed_by_prefix_and_revocation_takes_effect(
    database_url: str, tmp_path: Path
) -> None:
    tenant = create_tenant(database_url)
    tenant_option = ["--tenant", tenant["tenant_id"]]
    second = json.loads(waypost_cli(database_url, "key", "create", *tenant_option, "--name", "ci"))
    listed = [
        json.loads(line)
        for line in waypost_cli(database_url, "key", "list", *tenant_option).splitlines()
    ]
    assert sorted(item["name"] for item in listed) == ["ci", "initial"]
    for item in listed:
        assert set(item) == {"id", "name", "prefix", "created_at", "revoked_at"}
        assert item["prefix"] in (tenant["api_key"][:12], second["api_key"][:12])
    with waypost_serve(database_url, tmp_path) as (base_url, _process):
        bearer = {"Authorization": f"Bearer {second['api_key']}"}
        assert httpx.get(f"{base_url}/api/v1/webhooks", headers=bearer).status_code == 200
        bring = {
            "x-mybring-api-uid": "acme@example.com",
            "X-MYBRING-API-KEY": tenant["api_key"],
        }
        assert httpx.get(f"{base_url}/api/v1/webhooks", headers=bring).status_code == 200
        waypost_cli(database_url, "key", "revoke", *tenant_option, second["id"])
        deadline = time.monotonic() + 5.5
        while httpx.get(f"{base_url}/api/v1/webhooks", headers=bearer).status_code != 401:
            assert time.monotonic() < deadline, "a revoked key still works after 5 s"
            time.sleep(0.2)
        assert httpx.get(f"{base_url}/api/v1/webhooks", headers=bring).status_code == 200


def test_a_bad_setting_is_named_and_nothing_starts(tmp_path: Path) -> None:
    env = waypost_env(f"sqlite:///{tmp_path}/w.db", retry_delays="soon")
    done = subprocess.run(
        [*WAYPOST, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "WAYPOST_RETRY_DELAYS" in done.stderr
