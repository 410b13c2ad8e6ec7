"""An ASGI app that reads a request body and drops it: what granian itself can receive.

The push bound of `run.py`: Berth cannot take a blob faster than its HTTP server hands the
bytes to Python, whatever it does with them.
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})
