"""Snapshot pulls from the fake catalog server over real HTTP on 127.0.0.1: every fault keeps the old catalog."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.db import CatalogDb
from agent.catalog.pull import SnapshotClient
from agent.errors import CloudError
from agent.health import State
from simulators.cloud.catalog_data import SnapshotSpec, gtin_for
from simulators.cloud.catalog_server import CatalogServer
from simulators.doubles.clock import FakeClock
from simulators.doubles.waiting import wait_until

TIMEOUT_S = 20


async def pull(sync: CatalogSync) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        await sync.pull()


async def loaded_v1(sync: CatalogSync, db: CatalogDb) -> None:
    await pull(sync)
    assert db.status().version == 1, sync.last_error


async def test_pull_loads_snapshot_with_token_gzip_and_etag(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                                            catalog_server: CatalogServer) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    assert catalog_server.requests[0]["Authorization"] == "Bearer test-token"
    assert "gzip" in catalog_server.requests[0]["Accept-Encoding"]
    assert catalog_db.status().counts["product"] == 200
    assert catalog_db.status().etag == catalog_server.spec.etag
    product = catalog_db.product(gtin_for(7))
    assert product is not None and product.name == "Item 7"


async def test_unchanged_catalog_answers_304_and_refreshes_age(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                                               catalog_server: CatalogServer) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    checked = catalog_db.status().checked_at
    await pull(catalog_sync)
    assert catalog_server.requests[1]["If-None-Match"] == catalog_server.spec.etag
    assert catalog_server.statuses[-1] == 304
    assert catalog_sync.health.counters["not_modified"] == 1
    assert (catalog_db.status().checked_at or 0) >= (checked or 0)


async def test_new_version_is_swapped_in(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                         catalog_server: CatalogServer) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    catalog_server.publish(version=2, products=300)
    await pull(catalog_sync)
    assert catalog_db.status().version == 2
    assert catalog_db.product(gtin_for(250)) is not None


async def test_retries_a_5xx_then_succeeds(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                           catalog_server: CatalogServer) -> None:
    catalog_server.fail_next(2, status=503)
    await loaded_v1(catalog_sync, catalog_db)
    assert catalog_server.statuses[:3] == [503, 503, 200]


@pytest.mark.parametrize("knob", ["5xx", "truncate", "drop", "wrong_checksum", "drip", "auth", "replay", "stale_etag"])
async def test_every_fault_keeps_the_old_catalog_serving(knob: str, catalog_sync: CatalogSync,
                                                         catalog_db: CatalogDb, catalog_server: CatalogServer,
                                                         tmp_path: Path) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    catalog_server.publish(version=2, products=400)
    if knob == "5xx":
        catalog_server.fail_next(10, status=500)
    elif knob == "drip":
        catalog_server.drip_s = 0.2
        assert catalog_sync.client is not None
        catalog_sync.client.deadline_s = 1.0
    elif knob == "auth":
        catalog_server.token = "rotated-token"
    elif knob == "replay":
        catalog_server.spec = SnapshotSpec(products=50, members=3, version=1)
    else:
        setattr(catalog_server, knob, True)
    await pull(catalog_sync)
    status = catalog_db.status()
    assert status.version == 1
    assert status.counts["product"] == 200
    assert catalog_db.product(gtin_for(7)) is not None
    assert catalog_db.product(gtin_for(350)) is None
    if knob not in ("stale_etag", "replay"):
        assert catalog_sync.last_error, knob
    assert not list(catalog_db.state_dir.glob("*.loading")) and not list(catalog_db.state_dir.glob("*.download"))


async def test_older_snapshot_is_refused(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                         catalog_server: CatalogServer) -> None:
    catalog_server.publish(version=3)
    await pull(catalog_sync)
    catalog_server.publish(version=2, products=10)
    await pull(catalog_sync)
    assert catalog_db.status().version == 3 and catalog_db.status().counts["product"] == 200
    assert catalog_sync.last_error is not None and "older" in catalog_sync.last_error


async def test_overall_deadline_bounds_a_slow_drip(catalog_server: CatalogServer, catalog_token_file: Path,
                                                   tmp_path: Path) -> None:
    catalog_server.drip_s = 0.3
    client = SnapshotClient(catalog_server.url, token_file=catalog_token_file, deadline_s=1.0, read_timeout_s=5)
    started = asyncio.get_running_loop().time()
    with pytest.raises(CloudError, match="deadline_s"):
        async with asyncio.timeout(TIMEOUT_S):
            await client.fetch(tmp_path / "body")
    assert asyncio.get_running_loop().time() - started < 3


async def test_refused_token_is_not_retried(catalog_server: CatalogServer, catalog_token_file: Path,
                                            tmp_path: Path) -> None:
    catalog_server.token = "another"
    client = SnapshotClient(catalog_server.url, token_file=catalog_token_file, deadline_s=10, backoff_s=0.01)
    with pytest.raises(CloudError, match="token") as caught:
        async with asyncio.timeout(TIMEOUT_S):
            await client.fetch(tmp_path / "body")
    assert caught.value.status == 401 and len(catalog_server.requests) == 1


def aged_clock(catalog_sync: CatalogSync, catalog_db: CatalogDb) -> FakeClock:
    """A fake clock from now on for the sync and the catalog, so a test ages the catalog without waiting."""
    clock = FakeClock(start_wall=time.time())
    catalog_sync.clock = clock
    catalog_db.clock = clock
    return clock


async def test_stale_catalog_is_degraded_and_lookups_go_on(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                                           catalog_server: CatalogServer) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    catalog_sync.report()
    assert catalog_sync.health.state == State.OK
    clock = aged_clock(catalog_sync, catalog_db)
    clock.advance(catalog_sync.max_age_s + 1)
    catalog_sync.report()
    assert catalog_sync.health.state == State.DEGRADED
    assert "max_age_s" in catalog_sync.health.reason and "selling goes on" in catalog_sync.health.reason
    assert catalog_db.product(gtin_for(1)) is not None


async def test_no_catalog_is_degraded_with_safe_policy(catalog_db: CatalogDb) -> None:
    sync = CatalogSync(catalog_db, None, max_age_s=60, poll_interval_s=60)
    sync.report()
    assert sync.health.state == State.DEGRADED and "no catalog" in sync.health.reason
    assert catalog_db.product(gtin_for(1)) is None
    assert catalog_db.policy().points_redemption is False


async def test_run_pulls_and_reports_ok(catalog_sync: CatalogSync, catalog_db: CatalogDb) -> None:
    task = asyncio.create_task(catalog_sync.run(catalog_sync.health))
    try:
        await wait_until(lambda: catalog_sync.health.state == State.OK, TIMEOUT_S)
        assert catalog_sync.health.snapshot()["details"]["version"] == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_stuck_etag_is_caught_by_one_unconditional_pull_per_max_age(
        catalog_sync: CatalogSync, catalog_db: CatalogDb, catalog_server: CatalogServer) -> None:
    await loaded_v1(catalog_sync, catalog_db)
    catalog_server.publish(version=2, products=260)
    catalog_server.stale_etag = True
    await pull(catalog_sync)
    assert catalog_db.status().version == 1          # 304: the agent cannot know yet
    clock = aged_clock(catalog_sync, catalog_db)
    clock.advance(catalog_sync.max_age_s + 1)
    await pull(catalog_sync)
    assert "If-None-Match" not in catalog_server.requests[-1]
    assert catalog_db.status().version == 2


async def test_a_failed_pull_is_retried_soon_not_after_the_poll_interval(
        catalog_sync: CatalogSync, catalog_db: CatalogDb, catalog_server: CatalogServer) -> None:
    catalog_server.fail_next(3, status=503)      # the client's three attempts of the first pull
    catalog_sync.retry_first_s = 0.05
    catalog_sync.check_interval_s = 0.02
    task = asyncio.create_task(catalog_sync.run(catalog_sync.health))
    try:
        await wait_until(lambda: catalog_db.status().version == 1 and catalog_sync.health.state == State.OK,
                         TIMEOUT_S)
        assert catalog_db.status().version == 1 and catalog_sync.health.counters["pull_failures"] == 1
        assert catalog_sync.health.state == State.OK
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_uncompressed_body_loads_too(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                              catalog_server: CatalogServer) -> None:
    catalog_server.gzip = False
    await loaded_v1(catalog_sync, catalog_db)
    assert catalog_db.status().counts["member"] == 50
