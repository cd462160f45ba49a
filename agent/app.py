"""Composition root: config in, running lane out. Owns start order, signals, systemd notify and reload."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from agent import __version__, log
from agent.api.events import EventHub
from agent.api.kiosk import add_kiosk_routes
from agent.api.lane_collector import Sources
from agent.api.metrics import LaneMetrics
from agent.api.receipt_routes import ReceiptRoutes
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.attendant.components import Attendant, Identity, build_attendant
from agent.bagging.components import build_bagging
from agent.bagging.watcher import BaggingWatcher
from agent.catalog.catalog_sync import CatalogSync, build_catalog_sync
from agent.catalog.db import CatalogDb
from agent.clock import clock_trust
from agent.config import Config, load
from agent.devices import DeviceRunner, DeviceSection
from agent.errors import AgentError, StartupError, StoreError
from agent.health import HealthRegistry, State
from agent.interpret.rules import build_rules
from agent.interpret.tokens import TimePolicy
from agent.lane_db import open_lane_db
from agent.payment.registry import build_adapter
from agent.receipts.printing import ReceiptPrinting
from agent.sdnotify import Notifier, settle_heap
from agent.session.checkout import Checkout
from agent.session.controller import SessionController
from agent.session.offline import DEFAULT_MAX_AGE_S, CatalogOffline
from agent.session.pickup_handover import Pickups, build_locker
from agent.session.pipeline import Pipeline
from agent.store import Database
from agent.supervise import Supervisor
from agent.sync.commands import Handler
from agent.sync.components import Sync, build_sync
from agent.sync.disk import DiskGuard

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S = 4.0   # SIGTERM to exit well within systemd's and the contract's 5 s


@dataclass(frozen=True)
class Lane:
    """Everything one running agent owns, so stop() can take it down in reverse order.

    Frozen: a reload that takes a new config makes a new Lane (`reload` returns it) with the same components.
    """

    config: Config
    health: HealthRegistry
    hub: EventHub
    supervisor: Supervisor
    api: ApiServer
    lane_db: Database
    catalog: CatalogDb
    catalog_sync: CatalogSync
    pipeline: Pipeline
    session: SessionController
    checkout: Checkout
    metrics: LaneMetrics
    attendant: Attendant | None = None
    bagging: BaggingWatcher | None = None     # the bagging-area scale, when `[bagging]` is enabled
    sync: Sync | None = None
    devices: dict[str, DeviceSection] = field(default_factory=dict)
    reload_requested: asyncio.Event = field(default_factory=asyncio.Event)


async def start(config: Config) -> Lane:
    """Open state, start the API and every component; returns once all are started (not connected).

    Every object gets its collaborators and settings in its constructor, in the order below; nothing is patched
    in afterwards. The few links that point forward (the cloud's commands, the screens' hold on the pipeline,
    the certificate's expiry) are closures over names bound further down this function."""
    rules = build_rules(config.interpret, config.trust.keys, config.trust.clock_skew_s, config.agent.currency)
    health = HealthRegistry(__version__, config.agent.store_id, config.agent.lane_id)
    lane_db, catalog = await asyncio.to_thread(_open_state, config)
    _report_store(health, lane_db)
    hub = EventHub()
    supervisor = Supervisor(health)
    reload_requested = asyncio.Event()
    max_age_s = config.catalog.max_age_s if config.catalog is not None else DEFAULT_MAX_AGE_S
    catalog_sync = build_catalog_sync(config.catalog, catalog)
    guard = DiskGuard(config.agent.state_dir, config.agent.stop_sales_free_mb, config.agent.shed_scans_free_mb)
    metrics = LaneMetrics(Sources(health, lane_db, catalog, catalog_max_age_s=max_age_s,
                                  store_id=config.agent.store_id, lane_id=config.agent.lane_id, disk=guard,
                                  cert_expiry=lambda: sync.cert_expiry()), config.agent.currency)
    observers = metrics.observers()
    sync = build_sync(config.agent, config.mqtt, lane_db, guard=guard, observers=observers,
                      on_catalog_delta=catalog_sync.apply_delta,
                      commands=_cloud_commands(catalog_sync, lambda: pipeline, lambda: checkout, reload_requested),
                      on_attendant=lambda *message: attendant.link.on_message(*message),
                      on_connected=lambda: attendant.status.connected())
    clock_trusted = watch_clock(health)

    def screen(message: dict[str, Any]) -> None:      # the screens, and the attendant's view of the lane
        hub.publish(message)
        attendant.on_screen(message)

    adapter, offline_policy = build_adapter(config.payment), CatalogOffline(catalog, max_age_s)
    receipts = ReceiptPrinting(config.receipts, lane_id=config.agent.lane_id, lane_db=lane_db,
                               health=health.component("printer") if config.receipts.printer else None,
                               notify=screen, language=lambda: config.api.screen_language,
                               member_choice=catalog_member_choice(catalog), wake=sync.wake)

    def changed(change: Any) -> None:       # the metrics, the bagging scale's view of the visit, the receipt
        observers.change(change)
        if bagging is not None:
            bagging.on_change(change)
        if change.sale is not None:
            receipts.sale_recorded(change.sale)     # after its commit: the printer never holds a sale

    session = SessionController(lane_db=lane_db, settings=config.session, points=config.points,
                                adapter=adapter, notify=screen,
                                health=health.component("session"), currency=config.agent.currency,
                                max_skew_s=rules.max_skew_s, payment=config.payment,
                                offline_policy=offline_policy, guard=guard,
                                on_recorded=sync.wake, observers=replace(observers, change=changed),
                                clock_trusted=clock_trusted)
    bagging = build_bagging(config.bagging, catalog=catalog, lane_db=lane_db, visit=session)
    checkout = Checkout(session, adapter=adapter, lane_db=lane_db, health=health.component("session"),
                        settings=config.payment, currency=config.agent.currency, store_id=config.agent.store_id,
                        lane_id=config.agent.lane_id, offline_policy=offline_policy, audit_policy=catalog.policy,
                        offline_kinds=_offline_kinds(sync, catalog), guard=guard, observe_payment=observers.payment)
    locker = build_locker(config.pickup)
    pickups = None if locker is None else Pickups(lane_db=lane_db, locker=locker, settings=config.pickup,
                                                  health=health.component("locker"))
    api = ApiServer(config.api, health, hub, hold=lambda: pipeline.in_flight > 0)   # the screens wait for a scan
    attendant = build_attendant(
        config.attendant, Identity(config.agent.store_id, config.agent.lane_id, config.agent.currency,
                                   config.mqtt.topic_prefix if config.mqtt is not None else "omo/v1"),
        trust_keys=rules.keys, staff_tokens="staff" in rules.token_types, controller=session, health=health,
        publisher=lambda: sync.publisher,
        policy=lambda: TimePolicy(now=time.time(), skew_s=rules.skew_s, clock_synced=clock_trusted(),
                                  unsynced_skew_s=rules.unsynced_skew_s),
        on_outcome=metrics.attendant_command)
    health.listeners.append(lambda _registry: attendant.status.changed())
    pipeline = Pipeline(rules=rules, lane_db=lane_db, catalog=catalog, notify=screen,
                        health=health.component("pipeline"), clock_trusted=clock_trusted, session=session,
                        pickups=pickups, checkout=checkout, on_recorded=sync.wake, observers=observers,
                        on_idle=api.fanout.resume, max_catalog_age_s=max_age_s)
    metrics.add_to(api.app)
    session_routes = SessionRoutes(session, pipeline, checkout, None if bagging is None else bagging.skip)
    session_routes.add_to(api.app)
    ReceiptRoutes(receipts, staff=session_routes.staff_code).add_to(api.app)
    capabilities = session.adapter.capabilities
    add_kiosk_routes(api.app, session.view, default_language=config.api.screen_language,
                     pay_by_qr=capabilities.merchant_presented, scan_to_pay=capabilities.customer_presented,
                     scanner_position=config.api.scanner_position, receipt_link=receipts.current_link)
    await api.start()
    health.component("api").ok()
    lane = Lane(config=config, health=health, hub=hub, supervisor=supervisor, api=api, lane_db=lane_db,
                catalog=catalog, catalog_sync=catalog_sync, pipeline=pipeline, session=session, checkout=checkout,
                metrics=metrics, attendant=attendant, bagging=bagging,
                sync=sync, reload_requested=reload_requested)
    health.component("pipeline").ok()
    supervisor.start("catalog", catalog_sync.run, probe=catalog_sync.probe)
    sync.start(lane_db, supervisor)
    await session.load()         # a visit cut short by a restart comes back first (a payment is settled)
    checkout.start()             # reconciles every payment not final, in a task
    if pickups is not None:
        await pickups.recover()  # a door left opening by the restart: that order may be scanned again
    supervisor.start("session", session.run)
    attendant.start(supervisor)
    if config.receipts.printer:
        supervisor.start("printer", receipts.run)      # the sale never waits for it: recorded before printing
    if bagging is not None:
        supervisor.start("scale", bagging.run)     # component `scale`: degraded while there is no weight check
    if config.mqtt is None:
        health.component("cloud").degraded("no [mqtt] section: running offline, events wait in the outbox")
    for device in config.devices:
        start_device(lane, device)
    return lane


def catalog_member_choice(catalog: CatalogDb) -> Callable[[str], str | None]:
    """The receipt a member chose in the app (the member record's `receipt`), from the member cache."""

    def choice(member_id: str) -> str | None:
        member = catalog.member(member_id)
        return None if member is None else member.receipt

    return choice


def _open_state(config: Config) -> tuple[Database, CatalogDb]:
    """lane.db and the catalog in state_dir; a directory the agent cannot make or write is a StartupError."""
    state_dir = config.agent.state_dir
    try:
        return (open_lane_db(state_dir, config.agent.store_id, config.agent.lane_id),
                CatalogDb.open(state_dir))
    except (OSError, sqlite3.Error, StoreError) as exc:
        raise StartupError(f"cannot open the lane's state in {state_dir} ({exc}). Fix: make it a directory the "
                           "service user may write (the unit's StateDirectory= does so for /var/lib/omo-edge), "
                           "or set another [agent] state_dir", path=str(config.path),
                           key="[agent] state_dir") from None


def watch_clock(health: HealthRegistry) -> Callable[[], bool]:
    """Whether the wall clock is trusted, asked per scan and per commit (one adjtimex call); `/v1/health` asks
    again on each read and shows the verdict as component `clock` (degraded while not synchronised: app tokens
    then get the loose allowance, docs/interpretation.md)."""

    def refresh() -> dict[str, Any]:
        verdict = clock_trust()
        component.set(State.OK if verdict.synchronised else State.DEGRADED,
                      "" if verdict.synchronised else verdict.reason)
        return verdict.details()

    component = health.component("clock", probe=refresh)
    refresh()
    return lambda: refresh()["synchronised"] is True


def _cloud_commands(catalog_sync: CatalogSync, pipeline: Callable[[], Pipeline],
                   checkout: Callable[[], Checkout], reload_requested: asyncio.Event) -> dict[str, Handler]:
    """The cloud's commands (docs/sync.md); `pipeline` and `checkout` are asked when a command arrives, which is
    after start() has built them (the router only runs once the publisher does)."""

    async def refresh_catalog(_args: object) -> None:
        catalog_sync.request_pull()

    async def reload_config(_args: object) -> None:
        reload_requested.set()

    async def open_lane(_args: object) -> None:
        pipeline().set_open(True)

    async def close_lane(_args: object) -> None:
        pipeline().set_open(False)

    async def payment_notified(args: Mapping[str, Any]) -> None:
        checkout().notified(str(args.get("payment_id", "")))

    return {"catalog.refresh": refresh_catalog, "config.reload": reload_config, "lane.open": open_lane,
            "lane.close": close_lane, "payment.notify": payment_notified}


def _offline_kinds(sync: Sync, catalog: CatalogDb) -> Callable[[], tuple[str, ...] | None]:
    """While the uplink is down, only the payment kinds the cloud's offline policy allows."""
    publisher = sync.publisher

    def offline_kinds() -> tuple[str, ...] | None:
        if publisher is None or publisher.connected.is_set():
            return None
        return catalog.policy().payment_kinds

    return offline_kinds


def _report_store(health: HealthRegistry, lane_db: Database) -> None:
    store_health = health.component("store")
    if lane_db.moved_aside is not None:
        store_health.degraded(f"lane.db was corrupt and was moved aside to {lane_db.moved_aside}; "
                              "it may hold unsent events: keep it and contact support")
    else:
        store_health.ok()


def start_device(lane: Lane, device: DeviceSection) -> None:
    lane.devices[device.name] = device
    runner = DeviceRunner(device, lane.pipeline.on_scan)
    lane.supervisor.start(f"device:{device.name}", runner.run, probe=runner.probe)


async def stop(lane: Lane) -> None:
    """Stop components in reverse order, then the payments being followed (their intents stay on disk for the
    next start), then the API, then close the databases: nothing may use a connection after it is closed."""
    await lane.supervisor.stop_all()
    await lane.checkout.stop()
    if lane.pipeline.pickups is not None:
        await lane.pipeline.pickups.stop()
    await lane.api.stop()
    await asyncio.to_thread(lane.catalog.close)
    await asyncio.to_thread(lane.lane_db.close)


async def reload(lane: Lane) -> Lane:
    """SIGHUP: apply what can change live (devices, logging); name what needs a restart. Returns the lane with
    the config now in force (the same lane when the file is refused)."""
    try:
        new = await asyncio.to_thread(load, lane.config.path)
    except AgentError as exc:
        logger.error("reload refused, keeping the running configuration: %s", exc)
        return lane
    log.setup(new.agent.log_level, new.agent.log_format)
    await _reload_devices(lane, {d.name: d for d in new.devices})
    needs_restart = restart_needed(lane.config, new)
    if needs_restart:
        logger.warning("reload: changes to %s take effect after a restart (systemctl restart omo-edge)",
                       ", ".join(needs_restart))
    logger.info("configuration reloaded path=%s", new.path)
    return replace(lane, config=new)


LIVE = frozenset({"path", "devices", "agent.log_level", "agent.log_format"})   # what reload() applies


def restart_needed(old: Config, new: Config) -> list[str]:
    """Pure: each changed key a reload does not apply, as `section.key` (a section added or removed: `section`).
    Everything but the devices and the logging is handed to its component once, at start."""
    changed: list[str] = []
    for section in fields(old):
        before, after = getattr(old, section.name), getattr(new, section.name)
        if section.name in LIVE or before == after:
            continue
        if not (is_dataclass(before) and type(before) is type(after)):
            changed.append(section.name)
            continue
        changed += [f"{section.name}.{key.name}" for key in fields(before)
                    if getattr(before, key.name) != getattr(after, key.name)
                    and f"{section.name}.{key.name}" not in LIVE]
    return changed


async def _reload_devices(lane: Lane, wanted: dict[str, DeviceSection]) -> None:
    for name, current in list(lane.devices.items()):
        if wanted.get(name) != current:
            await lane.supervisor.stop(f"device:{name}")
            lane.health.remove(f"device:{name}")
            del lane.devices[name]
            logger.info("device %s stopped by reload", name)
    for name, device in wanted.items():
        if name not in lane.devices:
            start_device(lane, device)
            logger.info("device %s started by reload", name)


async def run(config: Config, notifier: Notifier | None = None) -> int:
    """The daemon: start, report READY, serve until SIGTERM/SIGINT, stop cleanly. Returns the exit code."""
    notifier = notifier or Notifier()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    reloads: asyncio.Queue[None] = asyncio.Queue()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, reloads.put_nowait, None)
    lane = await start(config)
    watchdog = asyncio.create_task(notifier.feed_watchdog(), name="watchdog")
    notifier.ready(f"serving lane {config.agent.store_id}/{config.agent.lane_id}, "
                   f"{len(config.devices)} device(s), API on {config.api.listen}")
    lane.health.listeners.append(lambda health: notifier.status(health.summary()))
    settle_heap()   # after READY=1: the collection it starts with is not start-up time
    logger.info("agent ready version=%s store=%s lane=%s", __version__, config.agent.store_id,
                config.agent.lane_id)
    try:
        await _serve(lane, notifier, stopping, reloads)
    finally:
        notifier.stopping()
        logger.info("agent stopping")
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        await asyncio.wait_for(stop(lane), STOP_TIMEOUT_S)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    logger.info("agent stopped")
    return 0


async def _serve(lane: Lane, notifier: Notifier, stopping: asyncio.Event, reloads: asyncio.Queue[None]) -> None:
    stop_wait = asyncio.create_task(stopping.wait())
    remote_reloads = asyncio.create_task(_forward_remote_reloads(lane, reloads))
    try:
        while not stopping.is_set():
            reload_wait = asyncio.create_task(reloads.get())
            await asyncio.wait({stop_wait, reload_wait}, return_when=asyncio.FIRST_COMPLETED)
            if reload_wait.done():
                notifier.reloading()
                lane = await reload(lane)   # the same components; stop() in run() needs nothing else
                notifier.ready(f"serving lane {lane.config.agent.store_id}/{lane.config.agent.lane_id}")
            else:
                reload_wait.cancel()
    finally:
        stop_wait.cancel()
        remote_reloads.cancel()


async def _forward_remote_reloads(lane: Lane, reloads: asyncio.Queue[None]) -> None:
    """A `config.reload` command from the cloud is the same as SIGHUP."""
    while True:
        await lane.reload_requested.wait()
        lane.reload_requested.clear()
        reloads.put_nowait(None)
