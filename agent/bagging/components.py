"""The bagging scale built for app.py: the watcher over the catalog's weights and the learned ones in lane.db.

A product's expected weight is the catalog's (`weight_g`, `weight_tolerance_g`, `weight_exempt`); without one,
the weight this lane learned (agent/bagging/records.py); else unknown, and its next weighing is a sample.
"""

from __future__ import annotations

from agent.bagging import records
from agent.bagging.rules import Sample
from agent.bagging.settings import MG_PER_G, BaggingSection
from agent.bagging.watcher import BaggingWatcher, ItemWeight
from agent.catalog.db import CatalogDb
from agent.clock import SYSTEM_CLOCK, Clock
from agent.session.visit_port import VisitPort
from agent.store import Database


def build_bagging(settings: BaggingSection, *, catalog: CatalogDb, lane_db: Database, visit: VisitPort,
                  clock: Clock = SYSTEM_CLOCK) -> BaggingWatcher | None:
    """The watcher when `[bagging]` is enabled, else None (the lane sells without a bagging scale)."""
    if not settings.enabled:
        return None

    def lookup(gtin: str) -> ItemWeight:
        product = catalog.product(gtin)
        if product is not None and product.weight_exempt:
            return ItemWeight(None, exempt=True)
        if product is not None and product.weight_g is not None:
            tolerance = product.weight_tolerance_g
            return ItemWeight(product.weight_g * MG_PER_G, None if tolerance is None else tolerance * MG_PER_G)
        learned = records.learned_weight(lane_db.reader(), gtin)
        return ItemWeight(None) if learned is None else ItemWeight(learned.weight_mg, learned.tolerance_mg)

    async def on_sample(sample: Sample) -> None:
        await lane_db.write(records.add_sample, sample, clock.time(), settings.learn_min_samples,
                            settings.min_change_g * MG_PER_G)

    return BaggingWatcher(settings=settings, visit=visit, lookup=lookup, on_sample=on_sample)
