"""What the lane holds, read when Prometheus scrapes `/metrics`: component states and counters, the outbox, the
catalog, the disk and the MQTT client certificate.

Why at scrape time: the state is already kept (health, lane.db, the catalog's meta table, statvfs), so reading
it then costs a few indexed queries per scrape and instruments no call site. A part that cannot be read (lane.db
locked, a probe failing) is left out of that scrape and logged once, never failing the whole page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.catalog.db import CatalogDb
from agent.clock import SYSTEM_CLOCK, Clock
from agent.health import HealthRegistry, State
from agent.store import Database
from agent.sync import outbox
from agent.sync.disk import MB, DiskGuard, file_sizes

logger = logging.getLogger(__name__)

DEVICE_PREFIX = "device:"
METRIC_WORD = re.compile(r"[a-z][a-z0-9_]*")

# Health counters worth their own metric: (component, counter) -> (metric name without _total, help).
COUNTERS: dict[tuple[str, str], tuple[str, str]] = {
    ("mqtt", "connects"): ("omo_edge_mqtt_connects", "Connections made to the broker; each after the first is "
                           "a reconnect."),
    ("relay", "publish_refused"): ("omo_edge_outbox_publish_refused", "Publishes the broker refused (its ACL)."),
    ("relay", "publish_too_large"): ("omo_edge_outbox_publish_too_large", "Rows over the broker's maximum "
                                     "packet size, kept in the outbox."),
    ("relay", "resent_unconfirmed"): ("omo_edge_outbox_resent", "Rows sent again because the ingest did not "
                                      "confirm them within confirm_timeout_s."),
    ("disk", "scans_shed"): ("omo_edge_outbox_scans_shed", "Unconfirmed scan events dropped because the disk "
                             "was nearly full (sales are never dropped)."),
    ("pipeline", "scans_not_recorded"): ("omo_edge_scans_not_recorded", "Scans lane.db refused to record."),
    ("catalog", "pulls"): ("omo_edge_catalog_pulls", "Catalog snapshot pulls from the cloud."),
    ("catalog", "pull_failures"): ("omo_edge_catalog_pull_failures", "Catalog pulls that failed."),
    ("catalog", "deltas_applied"): ("omo_edge_catalog_deltas_applied", "Catalog deltas applied."),
    ("catalog", "deltas_rejected"): ("omo_edge_catalog_deltas_rejected", "Catalog deltas refused."),
}


@dataclass
class Sources:
    """What the collector reads; the composition root gives the disk guard and the certificate's expiry too."""

    health: HealthRegistry
    lane_db: Database
    catalog: CatalogDb
    catalog_max_age_s: float = 86400.0
    store_id: str = ""            # [agent] store_id and lane_id, stated on omo_edge_build_info
    lane_id: str = ""
    disk: DiskGuard | None = None
    cert_expiry: Callable[[], datetime | None] = lambda: None
    clock: Clock = SYSTEM_CLOCK
    started_at: float = field(default_factory=SYSTEM_CLOCK.time)


class LaneCollector(Collector):
    """Yields the scrape-time metric families (docs/monitoring.md, "State read at scrape time")."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self._failing: set[str] = set()

    def collect(self) -> Iterator[Metric]:
        parts: tuple[tuple[str, Callable[[], list[Metric]]], ...] = (
            ("agent", self._agent), ("components", self._components), ("outbox", self._outbox),
            ("catalog", self._catalog), ("disk", self._disk), ("certificate", self._certificate))
        for name, part in parts:
            try:
                families = part()
            except Exception as exc:   # one unreadable part must not cost the whole scrape
                if name not in self._failing:
                    self._failing.add(name)
                    logger.warning("metrics: %s cannot be read and is left out of /metrics: %s", name, exc)
                continue
            if name in self._failing:
                self._failing.discard(name)
                logger.info("metrics: %s can be read again", name)
            yield from families

    def _agent(self) -> list[Metric]:
        """The version, and the lane's own names: the scraper adds `store` and `lane` to every series, and
        `store_id`/`lane_id` here let an alert catch a scraper whose labels are not this lane's."""
        info = GaugeMetricFamily("omo_edge_build_info", "The agent's version and the lane's [agent] store_id and "
                                 "lane_id (always 1).", labels=["version", "store_id", "lane_id"])
        info.add_metric([self.sources.health.version, self.sources.store_id, self.sources.lane_id], 1)
        started = GaugeMetricFamily("omo_edge_start_time_seconds", "When the agent started (Unix time).",
                                    value=self.sources.started_at)
        return [info, started]

    def _components(self) -> list[Metric]:
        """One gauge per component and state (1 for the current one), restarts, and the health counters."""
        states = GaugeMetricFamily("omo_edge_component_state", "1 for the component's current state, else 0.",
                                   labels=["component", "state"])
        restarts = CounterMetricFamily("omo_edge_component_restarts", "Times the supervisor restarted the "
                                       "component after it failed.", labels=["component"])
        named = {key: CounterMetricFamily(name, text) for key, (name, text) in COUNTERS.items()}
        devices: dict[str, CounterMetricFamily] = {}
        components: dict[str, Any] = self.sources.health.snapshot()["components"]
        for component, snap in components.items():
            counters: dict[str, int] = snap["counters"]
            for state in State:
                states.add_metric([component, state.value], 1 if snap["state"] == state.value else 0)
            restarts.add_metric([component], counters.get("restarts", 0))
            for (owner, counter), family in named.items():
                if owner == component:
                    family.add_metric([], counters.get(counter, 0))
            if component.startswith(DEVICE_PREFIX):
                self._device_counters(component.removeprefix(DEVICE_PREFIX), counters, devices)
        present = [family for family in named.values() if family.samples]
        return [states, restarts, *present, *devices.values()]

    @staticmethod
    def _device_counters(device: str, counters: dict[str, int], families: dict[str, CounterMetricFamily]) -> None:
        """A driver's counters (docs/drivers.md): `good_scan_count` becomes `omo_edge_device_good_scan_total`."""
        for counter, value in counters.items():
            stem = counter.removesuffix("_count")
            if counter == "restarts" or not METRIC_WORD.fullmatch(stem):
                continue
            if stem not in families:
                families[stem] = CounterMetricFamily(f"omo_edge_device_{stem}", f"The driver's {counter} "
                                                     "(docs/drivers.md), since the agent started.", labels=["device"])
            families[stem].add_metric([device], value)

    def _outbox(self) -> list[Metric]:
        """Unconfirmed events and the oldest one's wait, per class (as `omo-edge outbox status` counts them)."""
        conn = self.sources.lane_db.reader()
        report = outbox.depth(conn, self.sources.clock)
        ages = outbox.oldest_ages(conn, self.sources.clock)
        depth = GaugeMetricFamily("omo_edge_outbox_depth", "Events in lane.db not yet confirmed by the cloud.",
                                  labels=["class"])
        oldest = GaugeMetricFamily("omo_edge_outbox_oldest_age_seconds", "How long the oldest unconfirmed event "
                                   "of the class has waited (0 when none waits).", labels=["class"])
        for name, count in report["outbox_depth"].items():
            depth.add_metric([name], count)
            oldest.add_metric([name], ages.get(name) or 0.0)
        families: list[Metric] = [depth, oldest]
        last_ack = conn.execute("SELECT last_ack_at FROM outbox_lane WHERE id = 1").fetchone()[0]
        if last_ack:
            families.append(GaugeMetricFamily("omo_edge_outbox_last_ack_timestamp_seconds", "When the cloud's "
                                              "ingest last acknowledged an event (Unix time).", value=last_ack))
        return families

    def _catalog(self) -> list[Metric]:
        status = self.sources.catalog.status()
        families: list[Metric] = [
            GaugeMetricFamily("omo_edge_catalog_loaded", "1 when a catalog is loaded, else 0.",
                              value=int(status.loaded)),
            GaugeMetricFamily("omo_edge_catalog_version", "The loaded catalog's version (0: none).",
                              value=status.version),
            GaugeMetricFamily("omo_edge_catalog_max_age_seconds", "[catalog] max_age_s: past this age the "
                              "offline policy applies.", value=self.sources.catalog_max_age_s)]
        if status.age_s is not None:
            families.append(GaugeMetricFamily("omo_edge_catalog_age_seconds", "Since the cloud last confirmed the "
                                              "catalog (snapshot, not-modified or delta).", value=status.age_s))
        return families

    def _disk(self) -> list[Metric]:
        sizes = file_sizes(self.sources.lane_db.path)
        size = GaugeMetricFamily("omo_edge_lane_db_size_bytes", "lane.db and its WAL on disk.", labels=["file"])
        size.add_metric(["db"], sizes["db_bytes"])
        size.add_metric(["wal"], sizes["wal_bytes"])
        guard = self.sources.disk
        if guard is None:
            return [size]
        return [
            size,
            GaugeMetricFamily("omo_edge_disk_free_bytes", "Free space in the state directory.",
                              value=guard.free_bytes()),
            GaugeMetricFamily("omo_edge_disk_shed_scans_free_bytes", "Below this free space unconfirmed scan "
                              "events are shed ([agent] shed_scans_free_mb).", value=guard.shed_free_mb * MB),
            GaugeMetricFamily("omo_edge_disk_stop_sales_free_bytes", "Below this free space new sales are "
                              "refused ([agent] stop_sales_free_mb).", value=guard.stop_sales_free_mb * MB)]

    def _certificate(self) -> list[Metric]:
        expiry = self.sources.cert_expiry()
        if expiry is None:
            return []
        return [GaugeMetricFamily("omo_edge_mqtt_client_cert_expiry_timestamp_seconds", "When the MQTT client "
                                  "certificate stops being valid (its notAfter, Unix time).",
                                  value=expiry.timestamp())]
