"""The dashboard's session cookie behind an https public URL, and where sign-in leads."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.databases import settings_for
from tests.support.server import serve_app


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match is not None, page
    return match.group(1)


async def test_https_public_url_makes_the_cookie_secure_and_next_stays_local(
    tmp_path: Path,
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path}/w.db", public_url="https://dash.example")
    async with serve_app(settings) as app:
        tenant = await app.tenant()
        form = await app.client.get("/sign-in")
        nonce = form.headers["set-cookie"].split(";")[0]
        assert "Secure" in form.headers["set-cookie"]
        # The client talks plain http to the test server, so it would keep Secure cookies back.
        signed_in = await app.client.post(
            "/sign-in",
            data={
                "email": tenant.email,
                "password": tenant.password,
                "csrf_token": _csrf(form.text),
                "next": "//evil.example/",
            },
            headers={"Cookie": nonce},
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/"
        cookie = next(
            value
            for name, value in signed_in.headers.multi_items()
            if name == "set-cookie" and value.startswith("waypost_session=")
        )
        assert {"HttpOnly", "Secure", "SameSite=lax"} <= {
            part.strip() for part in cookie.split(";")
        }
        assert signed_in.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in signed_in.headers["content-security-policy"]
