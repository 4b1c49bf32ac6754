"""Routes of this area (filled by its owner)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from strongroom.web.permissions import Permission, Principal

router = APIRouter()


def install(app: FastAPI) -> None:
    """Middleware every response needs (filled by its owner)."""


async def authorise(request: Request, permission: Permission) -> Principal:
    raise NotImplementedError("filled by the accounts helper")
