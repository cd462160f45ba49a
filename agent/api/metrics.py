"""`GET /metrics`: the lane in Prometheus text format, from its own registry (docs/monitoring.md lists every metric).

Two kinds of metric. What the lane holds anyway (component states and counters, the outbox, the catalog, the
disk, the client certificate) is read when Prometheus scrapes, by `LaneCollector` (agent/api/lane_collector.py),
so no call site is instrumented for it. What happens once and is gone (a scan, a sale, a payment, a PUBACK, an
ack) is counted here through the `Observers` bundle (agent/health.py) this module builds and the composition root
(agent/app.py) hands to the pipeline, the session and the relay, so none imports prometheus_client. These
counters start at zero with the process, as Prometheus expects of a counter (`rate()` and `increase()` handle
the restart).

Labels are small, fixed sets (a device name from the config, a kind, an outcome, a reason code); a value outside
the known set is counted as `other`. Never an ID: no session, sale, member or payment ID, and no code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.aiohttp import make_aiohttp_handler

from agent.api.lane_collector import LaneCollector, Sources
from agent.health import Observers
from agent.payment.intents import Intent, IntentState
from agent.session.rules.payment_prompts import RELEASED
from agent.session.rules.visit_change import Change

# Counters' `_created` series would double what every lane sends and no panel or alert reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

KINDS = frozenset({"product", "member", "coupon", "order", "staff", "payment", "unknown", "invalid"})
OUTCOMES = frozenset({"accepted", "attendant", "unknown", "rejected", "audit"})
ENDINGS = frozenset({"paid", "cancelled", "abandoned", "suspended"})    # omo.session/1 events that end a visit
INTERVENTIONS = frozenset({"age_restricted", "expired_item", "unknown_item", "payment_failures", "random_audit",
                           "shopper_call", "keyed_code"})
REVERSALS = frozenset(RELEASED)                                         # why the lane released a payment

SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PAYMENT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
PUBLISH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ATTENDANT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0)   # a person walking over
ATTENDANT_ACTIONS = frozenset({"approve", "reject", "void_line", "lock", "unlock", "cancel_visit", "coming",
                               "void_sale", "unknown"})
ATTENDANT_OUTCOMES = frozenset({"applied", "refused", "already_resolved"})


def bounded(value: object, allowed: Iterable[str]) -> str:
    """`value` when it is one of the known label values, else `other`: a label never grows without bound."""
    text = str(value)
    return text if text in allowed else "other"


class LaneMetrics:
    """The lane's registry: event counters and latency histograms fed by callbacks, plus the scrape-time collector."""

    def __init__(self, sources: Sources, currency: str) -> None:
        self.sources = sources
        self.currency = currency
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.scans = Counter("omo_edge_scans", "Scans recorded in lane.db, by device, kind and outcome.",
                             ["device", "kind", "outcome"], registry=reg)
        self.scan_seconds = Histogram("omo_edge_scan_to_commit_seconds", "From a scan's last byte to its "
                                      "commit in lane.db (interpretation, catalog lookup, the transaction).",
                                      buckets=SCAN_BUCKETS, registry=reg)
        self.sessions_started = Counter("omo_edge_sessions_started", "Visits started.", registry=reg)
        self.sessions_ended = Counter("omo_edge_sessions_ended", "Visits ended, by outcome (paid, cancelled, "
                                      "abandoned, suspended).", ["outcome"], registry=reg)
        self.sales = Counter("omo_edge_sales", "Sales recorded (each was paid).", registry=reg)
        self.sale_amount = Counter("omo_edge_sales_amount_minor", "Sum of the recorded sales' totals, in the "
                                   "currency's minor units.", ["currency"], registry=reg)
        self.interventions = Counter("omo_edge_attendant_interventions", "Attendant calls, by reason.", ["reason"],
                                     registry=reg)
        self.payments = Counter("omo_edge_payments", "Payment attempts that reached a final state, by method, "
                                "outcome and (for a cancelled one) the lane's reason.", ["method", "outcome", "reason"],
                                registry=reg)
        self.payment_seconds = Histogram("omo_edge_payment_duration_seconds", "From a payment attempt's intent to "
                                         "its final state.", ["method", "outcome"], buckets=PAYMENT_BUCKETS,
                                         registry=reg)
        self.publish_seconds = Histogram("omo_edge_outbox_publish_seconds", "From an outbox row's publish to the "
                                         "broker's PUBACK, by class.", ["class"], buckets=PUBLISH_BUCKETS,
                                         registry=reg)
        self.ack_seconds = Histogram("omo_edge_outbox_ack_seconds", "From the broker's PUBACK to the cloud "
                                     "ingest's ack (end-to-end delivery).", buckets=ACK_BUCKETS, registry=reg)
        self.attendant_wait = Histogram("omo_edge_attendant_wait_seconds", "From an attendant call to the first "
                                        "staff response (on my way, or the decision), by reason.", ["reason"],
                                        buckets=ATTENDANT_BUCKETS, registry=reg)
        self.attendant_resolve = Histogram("omo_edge_attendant_resolve_seconds", "From an attendant call to its "
                                           "decision, by reason.", ["reason"], buckets=ATTENDANT_BUCKETS,
                                           registry=reg)
        self.attendant_commands = Counter("omo_edge_attendant_commands", "Attendant station commands answered, by "
                                          "action and outcome.", ["action", "outcome"], registry=reg)
        self.sales_amount = self.sale_amount.labels(currency)
        for outcome in ENDINGS:        # known label values start at 0, so the first one counts in increase()
            self.sessions_ended.labels(outcome)
        for reason in INTERVENTIONS:
            self.interventions.labels(reason)
        reg.register(LaneCollector(sources))

    def add_to(self, app: web.Application) -> None:
        """Serve the registry at `GET /metrics` (text format; OpenMetrics when the scraper asks for it)."""
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry, disable_compression=True))

    # -- callbacks wired by agent/app.py -----------------------------------------------------------------------

    def observers(self) -> Observers:
        """The bundle the session, the pipeline and the relay report to (built once by the composition root)."""
        return Observers(scan=self.scan_recorded, change=self.change_committed, payment=self.payment_finished,
                         publish=self.published, ack=self.acked)

    def scan_recorded(self, fields: Mapping[str, Any], seconds: float) -> None:
        self.scans.labels(str(fields.get("device", "")), bounded(fields.get("kind"), KINDS),
                          bounded(fields.get("outcome"), OUTCOMES)).inc()
        self.scan_seconds.observe(seconds)

    def change_committed(self, change: Change) -> None:
        """Visits started and ended, attendant calls (from the change's omo.session/1 events) and its sale."""
        for _class, schema, body in change.events:
            if schema == "omo.attendant/1":
                self.attendant_call(body)
            if schema != "omo.session/1":
                continue
            event = body.get("event")
            if event == "started":
                self.sessions_started.inc()
            elif event in ENDINGS:
                self.sessions_ended.labels(event).inc()
            elif event == "attendant_requested":
                self.interventions.labels(bounded(body.get("reason"), INTERVENTIONS)).inc()
        if change.sale is not None:
            self.sales.inc()
            self.sales_amount.inc(int(change.sale["total"]))

    def attendant_call(self, body: Mapping[str, Any]) -> None:
        """An omo.attendant/1 event: the call's wait (first response) and its time to a decision."""
        waited, reason = body.get("waited_ms"), bounded(body.get("reason"), INTERVENTIONS)
        if not isinstance(waited, int):
            return
        if body.get("first_response"):
            self.attendant_wait.labels(reason).observe(waited / 1000)
        if body.get("event") == "call_resolved":
            self.attendant_resolve.labels(reason).observe(waited / 1000)

    def attendant_command(self, action: str, outcome: str) -> None:
        self.attendant_commands.labels(bounded(action, ATTENDANT_ACTIONS), bounded(outcome, ATTENDANT_OUTCOMES)).inc()

    def payment_finished(self, intent: Intent) -> None:
        """A final intent: its outcome, and for a cancelled one why (a decline's words are not a label)."""
        outcome = intent.state.value
        reason = bounded(intent.reversal, REVERSALS) if intent.state is IntentState.CANCELLED else ""
        method = bounded(intent.method, ("wallet_code", "wallet_qr", "simulated"))
        self.payments.labels(method, outcome, reason).inc()
        self.payment_seconds.labels(method, outcome).observe(max(0.0, intent.updated_at - intent.created_at))

    def published(self, topic_class: str, seconds: float) -> None:
        self.publish_seconds.labels(bounded(topic_class, ("sales", "sessions", "scans"))).observe(seconds)

    def acked(self, seconds: float) -> None:
        self.ack_seconds.observe(seconds)
