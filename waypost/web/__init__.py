"""The web dashboard: server-rendered pages at ``/`` for a tenant's admin users.

Jinja2 templates and plain HTML forms (every page works without JavaScript);
each page calls the same use cases (``waypost.services``) and store queries as the
REST API, and imports nothing from ``waypost.api``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from waypost.web import deliveries, overview, signin, undelivered, webhooks
from waypost.web.pages import CsrfRefused, SignInRequired, html_error, sign_in_redirect


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages, its stylesheet and its error pages on ``app``."""

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return sign_in_redirect(exc.next_path)

    async def on_csrf_refused(request: Request, exc: Exception) -> Response:
        return html_error(
            request, 403, "The form had expired or did not come from this site. Try again."
        )

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(CsrfRefused, on_csrf_refused)
    for module in (signin, overview, webhooks, deliveries, undelivered):
        app.include_router(module.router)
    app.mount(
        "/dashboard-static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="dashboard-static",
    )
