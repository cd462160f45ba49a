"""The `[catalog]` config section: where the snapshot is pulled from, with which token, and how often.

Parsed once at start like every section (agent/config.py assembles them); the catalog's refresh reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.config_table import Table


@dataclass(frozen=True, slots=True)
class CatalogSection:
    url: str
    token_file: Path | None = None
    max_age_s: int = 86400
    poll_interval_s: int = 3600
    deadline_s: int = 600


def parse_catalog(t: Table, store_id: str, lane_id: str) -> CatalogSection:
    """`[catalog]`; `{store_id}` and `{lane_id}` in the URL are this lane's. Plain http only to this machine."""
    section = CatalogSection(
        url=t.string("url"),
        token_file=t.secret_file("token_file"),
        max_age_s=t.integer("max_age_s", 86400, 60, 90 * 86400),
        poll_interval_s=t.integer("poll_interval_s", 3600, 10, 86400),
        deadline_s=t.integer("deadline_s", 600, 5, 86400),
    )
    t.finish()
    url = section.url.replace("{store_id}", store_id).replace("{lane_id}", lane_id)
    match = re.match(r"(https?)://([^/:]+|\[[^\]]+\])", url)
    if match is None:
        raise t.error("url", f"{section.url!r} is not an http(s) URL", "use https://host/path")
    host = match.group(2).strip("[]")
    if match.group(1) == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        raise t.error("url", "plain http is only allowed to this machine (the token would travel in clear)",
                      "use https://")
    return CatalogSection(url=url, token_file=section.token_file, max_age_s=section.max_age_s,
                          poll_interval_s=section.poll_interval_s, deadline_s=section.deadline_s)
