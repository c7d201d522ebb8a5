"""Sign-in and sign-out of the dashboard: the e-mail and password of ``waypost tenant create``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from waypost.domain.csrf import csrf_token, csrf_valid
from waypost.errors import AuthenticationFailed
from waypost.resources import Services, services, utcnow
from waypost.services.reports import issue_session_token, sign_in
from waypost.web.pages import (
    NONCE_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    csrf_key,
    local_path,
    new_nonce,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)


def _secure(svc: Services) -> bool:
    return svc.settings.base_url.startswith("https://")


def _sign_in_page(
    request: Request,
    svc: Services,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
) -> Response:
    # Before sign-in the form's token is bound to a random nonce in its own cookie.
    nonce = request.cookies.get(NONCE_COOKIE) or new_nonce()
    response = render(
        request,
        "sign_in.html",
        viewer=None,
        signin_csrf=csrf_token(csrf_key(svc), nonce),
        next_path=next_path,
        email=email,
        error=error,
    )
    response.set_cookie(
        NONCE_COOKIE, nonce, httponly=True, samesite="lax", secure=_secure(svc), path="/sign-in"
    )
    return response


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    svc: Services = Depends(services),
) -> Response:
    return _sign_in_page(request, svc, next_path=local_path(next))


@router.post("/sign-in")
async def sign_in_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    svc: Services = Depends(services),
) -> Response:
    if not csrf_valid(csrf_key(svc), request.cookies.get(NONCE_COOKIE), csrf_token):
        raise CsrfRefused()
    try:
        # Slower answers after repeated failures for one e-mail, as on the API's /tokens.
        session = await sign_in(svc.callers, svc.sign_in_throttle, email, password)
    except AuthenticationFailed:
        return _sign_in_page(
            request,
            svc,
            next_path=local_path(next),
            email=email,
            error="Wrong e-mail or password.",
        )
    token, expires_at = issue_session_token(
        svc.callers, session, now=utcnow(), hours=svc.settings.session_hours
    )
    response = redirect(local_path(next))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires_at,
        httponly=True,
        samesite="lax",
        secure=_secure(svc),
        path="/",
    )
    response.delete_cookie(NONCE_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    svc: Services = Depends(services),
) -> Response:
    if not csrf_valid(csrf_key(svc), request.cookies.get(SESSION_COOKIE), csrf_token):
        raise CsrfRefused()
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
