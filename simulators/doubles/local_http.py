"""One JSON request to the agent's local API on loopback, for tests and simulators: (status, parsed body).

Why urllib and not an HTTP client library: the callers run it from threads and plain test functions beside a
lane, and need nothing but a status and a JSON body; an error status is returned, not raised.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def request_json(url: str, method: str, body: dict[str, Any] | None = None, timeout_s: float = 10) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - loopback only
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
