"""A service's admin routes: its registry (list, promote through the gate, roll back, set an
alias) and `reload` (check the alias now rather than at the next poll). The gateway's admin
routes forward here; with `<NAME>_ADMIN_TOKEN` set, each needs it as a bearer token."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from kit.artifacts import ArtifactError
from kit.errors import ProblemError
from kit.http import json_response
from kit.settings import ServiceSettings


class AdminUnauthorized(ProblemError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class PromoteBody(BaseModel):
    version: str | None = Field(None, description="The version to promote; the candidate "
                                                  "when omitted")
    force: bool = Field(False, description="Promote even if the gate fails (needs a reason)")
    reason: str = Field("", max_length=500)
    actor: str = Field("admin-api", max_length=100)


class ChangeBody(BaseModel):
    reason: str = Field("", max_length=500)
    actor: str = Field("admin-api", max_length=100)


class AliasBody(ChangeBody):
    version: str | None = Field(None, description="The version; null removes the alias")


class _Operations:
    """kit.releases, imported when first used: it is also the `python -m kit.releases` command,
    which must not be imported before runpy runs it."""

    def __getattr__(self, name: str):
        from kit import releases

        return getattr(releases, name)


_op = _Operations()


def admin_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(_authorised)])

    @router.post("/reload")
    async def reload(request: Request) -> Response:
        """Check the registry now; also retries a version that failed to load."""
        return json_response(await request.app.state.model_state.check(retry_failed=True))

    @router.get("/registry")
    async def registry(request: Request) -> Response:
        state = request.app.state.model_state
        return json_response(await _off_loop(_op.describe, state.registry))

    @router.post("/promote")
    async def promote(body: PromoteBody, request: Request) -> Response:
        """Runs the gate here (it scores with this service's own model code), in a thread."""
        state = request.app.state.model_state
        done = await _off_loop(_op.promote, state.registry, body.version,
                                       force=body.force, reason=body.reason, actor=body.actor)
        return json_response({**done.to_dict(), **await state.check()})

    @router.post("/rollback")
    async def rollback(body: ChangeBody, request: Request) -> Response:
        state = request.app.state.model_state
        change = await _off_loop(_op.rollback, state.registry, reason=body.reason,
                                         actor=body.actor)
        return json_response({**change.to_dict(), **await state.check()})

    @router.put("/aliases/{alias}")
    async def alias(alias: str, body: AliasBody, request: Request) -> Response:
        state = request.app.state.model_state
        change = await _off_loop(_op.set_alias, state.registry, alias,
                                         body.version, reason=body.reason, actor=body.actor)
        return json_response({**change.to_dict(), **await state.check()})

    return router


async def _off_loop(fn, *args, **kwargs):
    """A registry operation in a thread; the registry's own refusals become 409s."""
    from kit import releases

    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ArtifactError as exc:
        raise releases.ReleaseRefused(str(exc)) from exc


async def _authorised(request: Request) -> None:
    token = request.app.state.settings.admin_token
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                             token.encode()):
        raise AdminUnauthorized("this admin route needs the service's admin token",
                                headers={"WWW-Authenticate": "Bearer"})
