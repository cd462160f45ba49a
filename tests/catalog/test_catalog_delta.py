"""MQTT catalog deltas: applied in order, duplicates ignored, gaps held and repaired by a snapshot pull."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.db import CatalogDb
from agent.catalog.delta import Outcome
from agent.catalog.load import load_snapshot
from simulators.cloud.catalog_data import SnapshotSpec, delta_payload, gtin_for, member_id_for, write_snapshot
from simulators.cloud.catalog_server import CatalogServer
from simulators.doubles.clock import FakeClock
from simulators.doubles.waiting import wait_until

TIMEOUT_S = 20


def product(i: int, price: int) -> dict[str, object]:
    return {"gtin": gtin_for(i), "name": f"Item {i}", "price": price, "tax_rate": "0.10"}


async def delta(sync: CatalogSync, base: int, version: int, *lines: dict[str, object]) -> Outcome | None:
    async with asyncio.timeout(TIMEOUT_S):
        return await sync.apply(delta_payload(base, version, lines))


def offline_sync(catalog_db: CatalogDb, tmp_path: Path, version: int = 1) -> CatalogSync:
    load_snapshot(catalog_db, write_snapshot(tmp_path / "s.jsonl", SnapshotSpec(products=10, members=3,
                                                                                 version=version)))
    return CatalogSync(catalog_db, None, max_age_s=3600, poll_interval_s=3600)


async def test_upserts_and_deletes_apply_and_move_the_version(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    outcome = await delta(sync, 1, 2, product(3, 555), product(99, 120),
                          {"kind": "delete", "of": "product", "id": gtin_for(4)},
                          {"kind": "delete", "of": "member", "id": member_id_for(1)})
    assert outcome is Outcome.APPLIED
    assert catalog_db.product(gtin_for(3)).price == 555  # type: ignore[union-attr]
    assert catalog_db.product(gtin_for(99)) is not None and catalog_db.product(gtin_for(4)) is None
    assert catalog_db.member(member_id_for(1)) is None
    status = catalog_db.status()
    assert status.version == 2 and status.counts["product"] == 10 and status.counts["member"] == 2


async def test_a_duplicate_delta_is_ignored(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    assert await delta(sync, 1, 2, product(3, 555)) is Outcome.APPLIED
    assert await delta(sync, 2, 3, product(3, 777)) is Outcome.APPLIED
    assert await delta(sync, 1, 2, product(3, 555)) is Outcome.DUPLICATE
    assert catalog_db.product(gtin_for(3)).price == 777  # type: ignore[union-attr]
    assert catalog_db.status().version == 3


async def test_out_of_order_deltas_are_held_then_applied_in_order(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    assert await delta(sync, 2, 3, product(3, 300)) is Outcome.GAP
    assert catalog_db.status().version == 1
    assert await delta(sync, 1, 2, product(3, 200), product(5, 500)) is Outcome.APPLIED
    assert catalog_db.status().version == 3
    assert catalog_db.product(gtin_for(3)).price == 300  # type: ignore[union-attr]
    assert catalog_db.product(gtin_for(5)).price == 500  # type: ignore[union-attr]


async def test_a_bad_delta_is_refused_whole(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    payload = delta_payload(1, 2, [product(3, 999), {"gtin": "123", "name": "x", "price": 1, "tax_rate": "0.1"}])
    async with asyncio.timeout(TIMEOUT_S):
        assert await sync.apply(payload) is None
    assert catalog_db.product(gtin_for(3)).price != 999  # type: ignore[union-attr]
    assert sync.health.counters["deltas_rejected"] == 1


async def test_a_record_older_than_the_stored_one_is_not_applied(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path, version=5)
    stale = {**product(3, 1), "version": 4}
    assert await delta(sync, 5, 6, stale) is Outcome.APPLIED
    assert catalog_db.product(gtin_for(3)).price != 1  # type: ignore[union-attr]


async def test_member_cards_follow_their_member(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    member = {"kind": "member", "id": "M-new", "tier": "gold", "points": 40, "cards": ["5550001"]}
    await delta(sync, 1, 2, member)
    assert catalog_db.member_by_card("5550001").member_id == "M-new"  # type: ignore[union-attr]
    await delta(sync, 2, 3, {**member, "cards": ["5550002"], "points": 10})
    assert catalog_db.member_by_card("5550001") is None
    assert catalog_db.member_by_card("5550002").points == 10  # type: ignore[union-attr]


async def test_a_gap_triggers_a_snapshot_pull(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                              catalog_server: CatalogServer) -> None:
    task = asyncio.create_task(catalog_sync.run(catalog_sync.health))
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await _until(lambda: catalog_db.status().version == 1 and not catalog_sync.pulling)
            catalog_server.publish(version=4, products=250)
            assert await catalog_sync.apply(delta_payload(4, 5, [product(3, 42)])) is Outcome.GAP
            await _until(lambda: catalog_db.status().version == 5)
        assert catalog_db.product(gtin_for(3)).price == 42  # type: ignore[union-attr]
        assert catalog_db.status().counts["product"] == 250
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _until(condition: Callable[[], object]) -> None:
    await wait_until(condition, 20, 0.01)


async def test_without_a_cloud_a_gap_does_not_spin(catalog_db: CatalogDb, tmp_path: Path,
                                                   fake_clock: FakeClock) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    sync.clock = fake_clock
    task = asyncio.create_task(sync.run(sync.health))
    try:
        await sync.apply_delta(delta_payload(5, 6, [product(3, 1)]))
        await _until(lambda: sync.health.counters["deltas_gap"] == 1 and fake_clock.sleeping == 1)
        waits = len(fake_clock.sleeps)
        for _ in range(50):          # loop turns without time passing: a spinning loop would wait again
            await asyncio.sleep(0)
        assert len(fake_clock.sleeps) == waits, "the pull request was not cleared: the loop spins"
        fake_clock.advance(sync.check_interval_s)
        await _until(lambda: len(fake_clock.sleeps) == waits + 1)
        assert sync.health.counters["deltas_gap"] == 1 and catalog_db.status().version == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_delta_during_a_pull_is_held_not_waited_for(catalog_sync: CatalogSync, catalog_db: CatalogDb,
                                                            catalog_server: CatalogServer) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        await catalog_sync.pull()
        catalog_server.publish(version=2, products=300)
        catalog_server.drip_s = 0.01
        pulling = asyncio.create_task(catalog_sync.pull())
        await _until(lambda: catalog_sync.pulling)
        assert await catalog_sync.apply(delta_payload(2, 3, [product(3, 33)])) is Outcome.HELD
        assert await catalog_sync.apply(delta_payload(1, 2, [product(3, 22)])) is Outcome.HELD
        await pulling
    assert catalog_db.status().version == 3, catalog_sync.last_error
    assert catalog_db.product(gtin_for(3)).price == 33  # type: ignore[union-attr]


async def test_a_sale_stop_delta_is_added_then_removed(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    stop = {"kind": "sale_stop", "gtin": gtin_for(3), "lot": "L7", "reason": "recall", "message": "Return it"}
    assert await delta(sync, 1, 2, stop) is Outcome.APPLIED
    assert catalog_db.sale_stop(gtin_for(3), "L7") is not None and catalog_db.status().counts["sale_stop"] == 1
    assert catalog_db.sale_stop(gtin_for(3), "L8") is None
    assert await delta(sync, 2, 3, {"kind": "delete", "of": "sale_stop", "id": gtin_for(3), "lot": "L7"}) \
        is Outcome.APPLIED
    assert catalog_db.sale_stop(gtin_for(3), "L7") is None and catalog_db.status().counts["sale_stop"] == 0


async def test_a_delta_sets_and_clears_a_products_weight(catalog_db: CatalogDb, tmp_path: Path) -> None:
    sync = offline_sync(catalog_db, tmp_path)
    assert await delta(sync, 1, 2, {**product(3, 150), "weight_g": 512, "weight_tolerance_g": 12}) is Outcome.APPLIED
    weighed = catalog_db.product(gtin_for(3))
    assert weighed is not None and (weighed.weight_g, weighed.weight_tolerance_g) == (512, 12)
    assert await delta(sync, 2, 3, {**product(3, 150), "weight_exempt": True}) is Outcome.APPLIED
    exempt = catalog_db.product(gtin_for(3))
    assert exempt is not None and (exempt.weight_g, exempt.weight_exempt) == (None, True)
