"""Authentication methods: the body that creates one, as the API accepts it and the
dashboard's "Add Webhook" form builds it, read into the domain's ``JwtMethod`` or
``OAuth2Method`` (``method_of``).

Secrets (the JWT key, the client secret, header values) are write-only: accepted
here, used when sending, and never in any response.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from waypost.domain.auth import (
    AuthMethod,
    ClientAuth,
    JwtAlgorithm,
    JwtMethod,
    OAuth2Method,
    RequestType,
    check_jwt,
    check_oauth2,
)
from waypost.errors import ValidationFailed

_STRICT = ConfigDict(extra="forbid", strict=True)


class SignatureIn(BaseModel):
    """Bringg's ``"signature": {"key", "type": "base64"}``."""

    model_config = _STRICT
    key: str = Field(min_length=1, max_length=4096, description="Write-only")
    type: Literal["raw", "base64"] = "raw"


class JwtIn(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=100)
    type: Literal["jwt"]
    algorithm: JwtAlgorithm = "HS256"
    signature: SignatureIn | None = Field(default=None, description="The shared key (HS*)")
    private_key: str | None = Field(
        default=None, max_length=20_000, description="PEM private key (RS256, ES256); write-only"
    )
    issuer: str | None = Field(default=None, max_length=500)
    audience: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=500)
    lifetime_minutes: int = Field(default=20160, ge=1, le=527_040)
    header: str = Field(default="Authorization", max_length=100, description="An HTTP token")
    prefix: str = Field(default="Bearer", max_length=50, description="No control characters")


class HeaderIn(BaseModel):
    model_config = _STRICT
    key: str = Field(max_length=100, description="An HTTP token")
    value: str = Field(
        max_length=1024, description="Write-only. No control characters but horizontal tab."
    )


class OAuth2In(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=100)
    type: Literal["oauth2"]
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str = Field(min_length=1, max_length=2000, description="Write-only")
    auth_url: str = Field(min_length=1, max_length=500, description="Base URL, e.g. https://x.io")
    path: str = Field(default="/oauth/token", max_length=500)
    request_type: RequestType = Field(default="form", description="How the token request is sent")
    scope: str | None = Field(default=None, max_length=1000)
    client_auth: ClientAuth = Field(
        default="body", description="Client credentials in the body, or HTTP Basic"
    )
    headers: list[HeaderIn] = Field(
        default_factory=list, max_length=20, description="Sent with every webhook"
    )


AuthMethodIn = Annotated[JwtIn | OAuth2In, Field(discriminator="type")]
_ADAPTER: TypeAdapter[JwtIn | OAuth2In] = TypeAdapter(AuthMethodIn)


def parse_auth_method(data: dict[str, Any]) -> JwtIn | OAuth2In:
    """A create body given as a dict (a PATCH merged onto the stored method, the
    dashboard's form), or ``ValidationFailed`` naming the first bad field."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        # The first part of the location is the union member ("jwt", "oauth2").
        where = ".".join(str(part) for part in error["loc"][1:])
        raise ValidationFailed(f"{where}: {error['msg']}") from exc


def method_of(body: JwtIn | OAuth2In, *, allow_private: bool) -> AuthMethod:
    """The domain's method for a create body, its rules checked (``allow_private``: the
    setting ``allow_private_targets``, for an OAuth2 token URL)."""
    if isinstance(body, JwtIn):
        shared = body.algorithm.startswith("HS")
        if shared and body.signature is None:
            raise ValidationFailed(f"signature: required for {body.algorithm}")
        if not shared and body.private_key is None:
            raise ValidationFailed(
                f"private_key: a PEM private key is required for {body.algorithm}"
            )
        return check_jwt(
            JwtMethod(
                algorithm=body.algorithm,
                key=body.signature.key if shared and body.signature else body.private_key or "",
                key_is_base64=bool(shared and body.signature and body.signature.type == "base64"),
                issuer=body.issuer,
                audience=body.audience,
                subject=body.subject,
                lifetime_minutes=body.lifetime_minutes,
                header=body.header,
                prefix=body.prefix,
            )
        )
    return check_oauth2(
        OAuth2Method(
            client_id=body.client_id,
            client_secret=body.client_secret,
            auth_url=body.auth_url,
            path=body.path,
            request_type=body.request_type,
            scope=body.scope,
            client_auth=body.client_auth,
            headers=tuple((header.key, header.value) for header in body.headers),
        ),
        allow_private=allow_private,
    )
