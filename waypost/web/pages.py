"""What every dashboard page shares: the signed-in viewer, CSRF checks and rendering.

The session is the API's sign-in token (``POST /tokens``) kept in an HttpOnly,
SameSite=Lax cookie, Secure when the public URL is https; it is stateless, so
signing out removes the cookie and the token itself lives until it expires.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from waypost.domain.csrf import csrf_token, csrf_valid
from waypost.domain.models import Principal, User
from waypost.resources import Services, services
from waypost.services.reports import read_session_token
from waypost.web.fieldtree import has_checked_below

SESSION_COOKIE = "waypost_session"
NONCE_COOKIE = "waypost_signin_nonce"
CSRF_FIELD = "csrf_token"
_CSRF_KEY = "dashboard-csrf"
# The dashboard's own pages and stylesheet only; no framing (clickjacking).
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _field_id(path: str) -> str:
    """An HTML id for a field path (paths hold characters ids should not)."""
    return hashlib.sha256(path.encode()).hexdigest()[:12]


templates.env.filters["field_id"] = _field_id
templates.env.globals["has_checked_below"] = has_checked_below


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form came without the token of this browser's cookie."""


@dataclass(frozen=True, kw_only=True)
class Viewer:
    """The signed-in admin user of a tenant, and the CSRF token of their forms."""

    user: User
    csrf: str

    @property
    def tenant_id(self) -> str:
        return self.user.tenant_id

    @property
    def principal(self) -> Principal:
        """The caller as the API's helpers take it; its credential is the user."""
        return Principal(
            tenant_id=self.user.tenant_id, credential_id=self.user.id, user_id=self.user.id
        )


def csrf_key(svc: Services) -> bytes:
    return svc.callers.derived_key(_CSRF_KEY)


async def viewer(request: Request, svc: Services = Depends(services)) -> Viewer:
    """The signed-in admin, or ``SignInRequired``."""
    token = request.cookies.get(SESSION_COOKIE)
    session = read_session_token(svc.callers, token) if token else None
    user = (
        await svc.callers.user_by_id(tenant_id=session.tenant_id, user_id=session.user_id)
        if session is not None
        else None
    )
    if token is None or user is None or not user.is_admin:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return Viewer(user=user, csrf=csrf_token(csrf_key(svc), token))


async def checked_form(
    request: Request, who: Viewer = Depends(viewer), svc: Services = Depends(services)
) -> FormData:
    """The posted form of a signed-in viewer, once its CSRF token is checked."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    binding = request.cookies.get(SESSION_COOKIE)
    if not csrf_valid(csrf_key(svc), binding, given if isinstance(given, str) else None):
        raise CsrfRefused()
    return form


def secured(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page. A form that comes back with an error is a 200 with the error in an alert:
    the answer is the form to correct, and a 4xx would log a console error."""
    response = templates.TemplateResponse(
        request,
        template,
        {"viewer": viewer, "csrf": viewer.csrf if viewer else "", **context},
        status_code=status_code,
    )
    return secured(response)


def redirect(path: str) -> Response:
    """After a POST, to a page (303: the browser follows with a GET)."""
    return secured(RedirectResponse(path, status_code=303))


def local_path(candidate: str | None) -> str:
    """``candidate`` if it is a path on this site, else the overview: no open redirect."""
    if candidate and candidate.startswith("/") and not candidate.startswith(("//", "/\\")):
        return candidate
    return "/"


def sign_in_redirect(next_path: str) -> Response:
    return redirect(f"/sign-in?next={quote(next_path, safe='')}")


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def html_error(request: Request, status_code: int, message: str) -> Response:
    return render(request, "error.html", viewer=None, status_code=status_code, message=message)


def form_text(form: FormData, name: str) -> str:
    """A text field of ``form``, stripped; ``""`` when absent (files are not text)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
