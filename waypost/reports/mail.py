"""Outgoing mail over SMTP (aiosmtplib), configured by ``WAYPOST_SMTP_URL``.

``smtp://user:password@host:587?starttls=1`` upgrades the connection with
STARTTLS; ``smtps://host:465`` speaks TLS from the start; user and password are
optional. The password is never logged.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from waypost.errors import ConfigurationError


@dataclass(frozen=True, kw_only=True)
class Mailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    ca_bundle: str | None = None

    @classmethod
    def from_url(cls, url: str, sender: str, ca_bundle: str | None = None) -> Mailer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError("WAYPOST_SMTP_URL: use smtp://[user:pass@]host[:port]")
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            implicit_tls=implicit,
            ca_bundle=ca_bundle,
        )

    async def send(self, *, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        context = ssl.create_default_context(cafile=self.ca_bundle)
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=self.starttls if not self.implicit_tls else False,
            tls_context=context,
            timeout=30,
        )
