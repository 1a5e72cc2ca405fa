"""Walking paginated list endpoints, whatever pagination shape the provider uses.

Shapes understood: Cliqtel's `{"data": [...], "meta": {"page", "total_pages", ...}}`, Laravel's
`{"data": [...], "current_page", "last_page", "total", "next_page_url"}`, and ClickSend's envelope
that nests a Laravel page inside `data`. A list with no pagination facts is one page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from campaigner.errors import ProviderError

# Far more than any lookup needs; past it the provider is ignoring our filters, and "not found" would
# be a guess.
MAX_PAGES = 200

Getter = Callable[[str, dict[str, str]], Awaitable[Any]]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def split(payload: Any, keys: tuple[str, ...] = ("data",)) -> tuple[list[Any], int | None, int | None]:
    """(items, current page, last page) of one page; page numbers are None when the reply has none."""
    if isinstance(payload, list):
        return payload, None, None
    if not isinstance(payload, dict):
        return [], None, None
    inner = payload.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("data"), list):
        # ClickSend: {"http_code", "response_code", "data": {<Laravel page>}}
        return split(inner, keys)
    items: list[Any] = []
    for key in keys:
        if isinstance(payload.get(key), list):
            items = payload[key]
            break
    meta: dict[str, Any] = payload["meta"] if isinstance(payload.get("meta"), dict) else {}
    current = _int(meta.get("page", meta.get("current_page", payload.get("current_page"))))
    last = _int(meta.get("total_pages", meta.get("last_page", payload.get("last_page"))))
    if last is None and "next_page_url" in payload and current is not None:
        last = current if payload["next_page_url"] is None else current + 1
    return items, current, last


async def walk(
    get: Getter,
    url: str,
    params: Mapping[str, str],
    *,
    keys: tuple[str, ...] = ("data",),
    page_param: str = "page",
) -> AsyncIterator[dict[str, Any]]:
    """Yield every object of every page of `url`, asking for page 1, 2, … until the last one."""
    page = 1
    while True:
        payload = await get(url, {**params, page_param: str(page)})
        items, current, last = split(payload, keys)
        for item in items:
            if isinstance(item, dict):
                yield item
        if last is None or not items:
            return
        current = current if current is not None else page
        if current >= last:
            return
        page = current + 1
        if page > MAX_PAGES:
            raise ProviderError(f"{url}: more than {MAX_PAGES} pages; refusing to guess")
