"""The minimal stub the contract tests run against: it serves the reply a case sets and keeps
every request, knowing nothing of any provider."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Stub:
    """Serves `reply` (status, JSON body[, headers]) to any request, and keeps the requests."""

    url: str = ""
    reply: tuple[Any, ...] = (200, {}, {})
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "json": json.loads(raw) if raw else None,
                "headers": dict(request.headers),
                "authorization": request.headers.get("Authorization"),
            }
        )
        status, body, *headers = self.reply
        return web.json_response(body, status=status, headers=headers[0] if headers else None)
