"""A real OAuth2 token server on 127.0.0.1 for the end-to-end tests of the ``oauth2`` auth method.

This is authlib's authorization server (``authlib.integrations.flask_oauth2.AuthorizationServer``
with the client-credentials grant) on Flask, served by werkzeug in a daemon thread, so the tests
meet the answers and error responses of a real implementation rather than a hand-written fake.
Clients and tokens live in memory; there is one confidential client, which may authenticate with
``client_secret_post`` or ``client_secret_basic``.

Besides RFC 6749's form-encoded body, the token endpoint accepts the parameters as a JSON body or
as query-string parameters on a POST without a body, as some providers do: a WSGI middleware
records each request and rewrites those two forms into a form-encoded body before authlib sees it.

    with TokenServer(client_id="waypost", client_secret="s3cret") as server:
        url = server.base_url + server.path
        ...
        assert server.token_requests[0].request_type == "json"
        assert server.is_valid(server.issued[0])
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlencode

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_input_stream

_SUPPORTED_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_MASK = "***"


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint, as the client sent it."""

    content_type: str | None
    request_type: str
    """How the client sent its parameters: ``"form"``, ``"json"`` or ``"query"``."""
    params: dict[str, str]
    """The parameters as received, with the value of ``client_secret`` replaced by ``"***"``."""
    authorization: str | None
    """The ``Authorization`` header with any secret masked; Basic credentials are shown decoded,
    as ``"Basic <client_id>:***"``, so that a test can see which client authenticated."""


@dataclass(frozen=True)
class _Client:
    """The minimal client model authlib's token endpoint needs (see ``ClientMixin``)."""

    client_id: str
    # Kept out of the repr: authlib logs the client at DEBUG, and tests assert that secrets never
    # reach the logs.
    client_secret: str = field(repr=False)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Any requested scope is granted as asked; authlib omits "scope" from the answer when empty.
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in _SUPPORTED_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


@dataclass(frozen=True)
class _Token:
    access_token: str
    client_id: str
    scope: str
    issued_at: float
    """``time.monotonic()`` at issue."""
    expires_in: int | None
    """Seconds of validity; ``None`` when authlib issued the token without ``expires_in``."""

    def is_expired(self, now: float) -> bool:
        return self.expires_in is not None and now >= self.issued_at + self.expires_in


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    # authlib's grant allows only client_secret_basic by default.
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(_SUPPORTED_AUTH_METHODS)


class _QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without the access log, whose lines would carry query-string secrets."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class TokenServer:
    """An OAuth2 token endpoint (client-credentials grant) for one client, on a free local port.

    ``token_requests``, ``issued`` and ``is_valid`` report what happened; ``expires_in`` (for the
    next tokens issued) and ``down`` may be changed between requests.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        expires_in: int = 3600,
        path: str = "/oauth/token",
    ) -> None:
        self.path = path
        self.expires_in = expires_in
        self.down = False
        """When true, the token endpoint answers 503 with a JSON error body."""
        self.token_requests: list[TokenRequest] = []
        """Every request to the token endpoint, in order, including failed ones."""
        self.issued: list[str] = []
        """The access tokens issued, in order."""
        self._client = _Client(client_id=client_id, client_secret=client_secret)
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app = self._create_app()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without the token path."""
        if self._server is None:
            raise RuntimeError("the token server is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the token server is already started")
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth2-token-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; a stopped server cannot be started again."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(10)
        # werkzeug's serve_forever closes the socket when it returns; this is for a stuck thread.
        server.server_close()

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired (per its ``expires_in``)."""
        with self._lock:
            issued = self._tokens.get(token)
        return issued is not None and not issued.is_expired(time.monotonic())

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _create_app(self) -> Flask:
        app = Flask(__name__)
        authorization = AuthorizationServer(
            app, query_client=self._query_client, save_token=self._save_token
        )
        # Replaces the "default" generator authlib configured from app.config, whose expires_in
        # is fixed at setup; this one reads self.expires_in at each issue.
        authorization.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: generate_token(42),
                expires_generator=lambda client, grant_type: self.expires_in,
            ),
        )
        authorization.register_grant(_ClientCredentialsGrant)

        @app.post(self.path)
        def token() -> Response:
            if self.down:
                return Response(
                    json.dumps(
                        {
                            "error": "temporarily_unavailable",
                            "error_description": "The token server is down.",
                        }
                    ),
                    status=503,
                    content_type="application/json",
                )
            response: Response = authorization.create_token_response()
            return response

        return app

    def _query_client(self, client_id: str) -> _Client | None:
        return self._client if client_id == self._client.client_id else None

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        expires_in = token.get("expires_in")
        saved = _Token(
            access_token=token["access_token"],
            client_id=request.client.get_client_id(),
            scope=token.get("scope", ""),
            issued_at=time.monotonic(),
            expires_in=int(expires_in) if expires_in else None,
        )
        with self._lock:
            self._tokens[saved.access_token] = saved
            self.issued.append(saved.access_token)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Record token requests, and turn JSON and query parameters into a form body for authlib.

        authlib's token endpoint reads its parameters from the form body and the query string
        (``request.values``), but the ``client_secret_post`` authentication reads only the form
        body: query-string credentials would be refused, and JSON is not read at all.
        """
        if environ.get("PATH_INFO") == self.path:
            self._record(environ)
        result: Iterable[bytes] = self._app.wsgi_app(environ, start_response)
        return result

    def _record(self, environ: dict[str, Any]) -> None:
        body = get_input_stream(environ).read()
        content_type = environ.get("CONTENT_TYPE") or None
        query = environ.get("QUERY_STRING", "")
        mimetype = (content_type or "").split(";", 1)[0].strip().lower()
        form: dict[str, str] | None = None
        if not body and query:
            request_type = "query"
            params = dict(parse_qsl(query, keep_blank_values=True))
            form = params
            environ["QUERY_STRING"] = ""
        elif mimetype == "application/json" or mimetype.endswith("+json"):
            request_type = "json"
            params = _json_params(body)
            form = params or None
        else:
            request_type = "form"
            params = _form_params(environ, body)
        if form is not None:
            body = urlencode(form).encode()
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        # The stream was consumed above: the application reads this copy instead.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if "client_secret" in params:
            params = {**params, "client_secret": _MASK}
        recorded = TokenRequest(
            content_type=content_type,
            request_type=request_type,
            params=params,
            authorization=_masked_authorization(environ.get("HTTP_AUTHORIZATION")),
        )
        with self._lock:
            self.token_requests.append(recorded)


def _json_params(body: bytes) -> dict[str, str]:
    """The members of a JSON object body as strings; empty when the body is no JSON object.

    An empty result leaves the body as it came, so that authlib answers it as it would.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in document.items()
    }


def _form_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    """The form parameters of the body (URL-encoded or multipart), parsed from a copy of it."""
    copy = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    return Request(copy).form.to_dict()


def _masked_authorization(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if not credentials:
        return header
    if scheme.lower() != "basic":
        return f"{scheme} {_MASK}"
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return f"{scheme} {_MASK}"
    user, colon, _ = decoded.partition(":")
    return f"{scheme} {user}{colon}{_MASK if colon else ''}"
