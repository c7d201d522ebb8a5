"""The Undelivered Webhooks Report end to end: real processes, a real SMTP server (aiosmtpd),
a real callback receiver, Bringg's three retrieval steps, the CSV read with ``csv``."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.deployment import create_tenant, deployment, subscribe, wait_terminal, wait_until
from tests.support.process import free_port
from tests.support.receiver import Reply, ThreadedReceiver

pytestmark = pytest.mark.slow

PASSWORD = "a-long-password"


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_report_is_built_once_sent_and_fetched(database_url: str, tmp_path: Path) -> None:
    acme = create_tenant(database_url)
    globex = create_tenant(database_url, "globex")
    receiver = ThreadedReceiver()
    receiver.start()
    receiver.script("/down", [Reply(503)] * 8)
    for path in ("/gone", "/gone-user", "/gone-globex"):
        receiver.script(path, [Reply(404)] * 4)
    settings = {"report_poll_interval": "0.2", "report_link_seconds": "3"}
    try:
        with (
            smtp_server() as (smtp_port, mailbox),
            deployment(
                database_url, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_port}", **settings
            ) as running,
            httpx.Client(
                base_url=running.base_url, headers={"Authorization": f"Bearer {acme['api_key']}"}
            ) as client,
            httpx.Client(
                base_url=running.base_url,
                headers={"Authorization": f"Bearer {globex['api_key']}"},
            ) as other,
        ):
            for path in ("/down", "/gone", "/ok"):
                subscribe(client, receiver.url(path))
            subscribe(client, receiver.url("/gone-user"), event_types=["user_created"])
            subscribe(other, receiver.url("/gone-globex"))
            events = [
                client.post("/api/v1/events", json={"type": "task_created", "data": data})
                for data in ({"id": 1, "city": "OSLO"}, {"id": 2, "city": 'BERGEN, "Vest"'})
            ]
            events.append(
                client.post("/api/v1/events", json={"type": "user_created", "data": {"id": 3}})
            )
            events.append(
                other.post("/api/v1/events", json={"type": "task_created", "data": {"id": 4}})
            )
            for posted in events[:3]:
                wait_terminal(client, posted.json()["id"])
            wait_terminal(other, events[3].json()["id"])

            now = datetime.now(UTC)
            window = {
                "start_date": (now - timedelta(hours=1)).isoformat(),
                "end_date": (now + timedelta(hours=1)).isoformat(),
            }
            requested = client.post(
                "/services/get_undelivered_webhooks",
                json={
                    **window,
                    "webhook_type": ["task_created"],
                    "email": "ops@acme.example",
                    "callback_url": receiver.url("/callback"),
                },
            )
            assert requested.status_code == 200, requested.text
            assert requested.json()["success"] is True
            report_id = requested.json()["report_id"]
            link = f"{running.base_url}/reports?reportId={report_id}"

            wait_until(lambda: receiver.requests_for("/callback"), 30, "no callback")
            [callback] = receiver.requests_for("/callback")
            assert json.loads(callback.body) == {"report_id": report_id, "url": link}
            wait_until(lambda: mailbox.messages, 30, "no e-mail")
            [mail] = mailbox.messages
            assert mail["To"] == "ops@acme.example"
            body = mail.get_payload(decode=True)
            assert isinstance(body, bytes) and link in body.decode()

            refused = httpx.post(
                f"{running.base_url}/tokens", json={"email": "acme@example.com", "password": "no"}
            )
            unknown = httpx.post(
                f"{running.base_url}/tokens", json={"email": "nobody@x.io", "password": "no"}
            )
            assert refused.status_code == unknown.status_code == 401
            assert refused.json()["reason"] == unknown.json()["reason"]
            token = httpx.post(
                f"{running.base_url}/tokens",
                json={"email": "acme@example.com", "password": PASSWORD},
            ).json()["authentication_token"]
            execution = httpx.get(
                f"{running.base_url}/reports-service/v1/report_execution",
                params={"uuid": report_id},
                headers={"Authorization": f"Token token={token}"},
            )
            assert execution.status_code == 200, execution.text
            assert execution.json()["status"] == "ready"
            url = execution.json()["url"]
            downloaded = httpx.get(url)
            assert downloaded.status_code == 200, downloaded.text
            assert downloaded.headers["content-type"].startswith("text/csv")
            rows = rows_of(downloaded.text)
            assert len(rows) == 4, rows
            by_url: dict[str, list[dict[str, str]]] = {}
            for row in rows:
                by_url.setdefault(row["url"].rsplit("/", 1)[1], []).append(row)
            assert sorted(by_url) == ["down", "gone"]
            assert {(row["attempts"], row["last_status_code"]) for row in by_url["down"]} == {
                ("4", "503")
            }
            assert {(row["attempts"], row["last_status_code"]) for row in by_url["gone"]} == {
                ("1", "404")
            }
            assert {row["webhook_type"] for row in rows} == {"task_created"}
            assert {json.loads(row["payload"])["city"] for row in rows} == {
                "OSLO",
                'BERGEN, "Vest"',
            }

            page = httpx.get(link)
            assert page.status_code == 200 and "password" in page.text
            form = httpx.post(
                f"{running.base_url}/reports",
                data={"reportId": report_id, "email": "acme@example.com", "password": PASSWORD},
            )
            assert form.status_code == 200 and rows_of(form.text) == rows

            altered = httpx.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
            assert altered.status_code == 403
            globex_token = httpx.post(
                f"{running.base_url}/tokens",
                json={"email": "globex@example.com", "password": PASSWORD},
            ).json()["authentication_token"]
            hidden = httpx.get(
                f"{running.base_url}/reports-service/v1/report_execution",
                params={"uuid": report_id},
                headers={"Authorization": f"Token token={globex_token}"},
            )
            assert hidden.status_code == 404

            keyword = client.post(
                "/api/v1/reports/undelivered-webhooks",
                json={**window, "keywords": ["OSLO"], "callback_url": receiver.url("/cb2")},
            ).json()["report_id"]
            wait_until(lambda: receiver.requests_for("/cb2"), 30, "no second callback")
            second = client.get(f"/api/v1/reports/{keyword}").json()
            only_oslo = rows_of(httpx.get(second["url"]).text)
            assert len(only_oslo) == 2
            assert {json.loads(row["payload"])["city"] for row in only_oslo} == {"OSLO"}

            time.sleep(3.2)
            assert httpx.get(url).status_code == 403, "the link expires"
            assert len(receiver.requests_for("/callback")) == 1, "notified exactly once"
    finally:
        receiver.stop()


def test_bad_report_requests_are_400(database_url: str, tmp_path: Path) -> None:
    acme = create_tenant(database_url)
    now = datetime.now(UTC)
    with (
        deployment(database_url, tmp_path) as running,
        httpx.Client(
            base_url=running.base_url, headers={"Authorization": f"Bearer {acme['api_key']}"}
        ) as client,
    ):
        base = {
            "start_date": now.isoformat(),
            "end_date": (now + timedelta(days=1)).isoformat(),
            "email": "ops@acme.example",
        }
        for body, named in (
            ({**base, "end_date": now.isoformat()}, "end_date"),
            ({**base, "end_date": (now + timedelta(days=32)).isoformat()}, "31 days"),
            ({**base, "webhook_types": ["task_creatd"]}, "task_created"),
            ({"start_date": base["start_date"], "end_date": base["end_date"]}, "callback_url"),
            ({**base, "email": "not-an-address"}, "email"),
            ({**base, "start_date": "2026-11-01T00:00:00"}, "start_date"),
        ):
            response = client.post("/services/get_undelivered_webhooks", json=body)
            assert response.status_code == 400, (body, response.text)
            assert named in response.json()["reason"], (named, response.text)
