"""API keys, stored only as sha256 hex digests; a key comes as `Authorization: Bearer <key>` or
`X-API-Key: <key>`. `python -m gateway.auth KEY` prints the digest to put in settings."""

from __future__ import annotations

import hashlib
import sys

from fastapi import Request

from kit.errors import ProblemError


class Unauthorized(ProblemError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return request.headers.get("x-api-key") or None


def client_address(request: Request) -> str:
    """The caller's address: the peer's, or a trusted proxy's X-Forwarded-For (uvicorn applies
    it only for the proxies in `forwarded_allow_ips`)."""
    return "ip:" + (request.client.host if request.client else "unknown")


class ApiKeys:
    """Checks a request's key against the configured digests; returns the caller's identity."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = frozenset(d.strip().lower() for d in digests if d.strip())

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def identify(self, request: Request) -> str:
        """The key's digest when keys are on; the client address when they are off."""
        if not self.enabled:
            return client_address(request)
        key = presented_key(request)
        if key is None:
            raise Unauthorized("an API key is required (Authorization: Bearer <key> or "
                               "X-API-Key)", headers={"WWW-Authenticate": "Bearer"})
        digest = hash_key(key)
        if digest not in self.digests:
            raise Unauthorized("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
        return "key:" + digest[:16]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m gateway.auth API_KEY   (prints the sha256 to list in "
                 "GATEWAY_API_KEY_SHA256)")
    print(hash_key(sys.argv[1]))
