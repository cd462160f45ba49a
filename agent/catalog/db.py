"""The offline catalog: lookups for the session from a local SQLite file, never from the network.

The catalog is a *generation*: one file `catalog-v{version}-{n}.db` in the state directory, named by the
pointer file `catalog.current`. A snapshot is loaded into a new file and swapped in by replacing the
pointer and one Python reference, so each lookup runs against one generation only and never sees a
half-loaded or mixed catalog. Deltas are written in place through the generation's single writer, one
transaction each, so a lookup sees a delta wholly or not at all.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agent.catalog.files import FILE_PREFIX, catalog_lock, read_pointer, write_pointer
from agent.catalog.rates import canonical_rate
from agent.catalog.records import (
    CatalogStatus,
    Coupon,
    Member,
    OfflinePolicy,
    Order,
    Product,
    Promotion,
    SaleStop,
    TrustedKey,
)
from agent.catalog.schema import KINDS, migrations
from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import StoreError
from agent.store import Database, readonly, translate

logger = logging.getLogger(__name__)
EMPTY_NAMES: Mapping[str, str] = MappingProxyType({})


_PRODUCT = """SELECT p.gtin, p.name, p.price, p.tax_rate, p.member_price, p.department, p.age_restricted,
    p.sale_stop, p.deposit, p.unit, p.version, t.price, t.member_price, p.names, p.weight_g, p.weight_tolerance_g,
    p.weight_exempt
FROM products p LEFT JOIN (SELECT price, member_price FROM prices WHERE gtin = ?1 AND valid_from <= ?2
    AND (valid_to IS NULL OR valid_to > ?2) ORDER BY valid_from DESC LIMIT 1) t
WHERE p.gtin = ?1"""
_PROMOTIONS = """SELECT p.* FROM promotion_items i JOIN promotions p ON p.promo_id = i.promo_id
WHERE i.gtin IN (?1, '*') AND (p.valid_from IS NULL OR p.valid_from <= ?2) AND (p.valid_to IS NULL OR p.valid_to > ?2)
ORDER BY p.promo_id"""
# A lot's own stop wins over the GTIN's every-lot stop ("*"), which also covers codes without a lot.
_SALE_STOP = """SELECT * FROM sale_stops WHERE gtin = ?1 AND lot IN (?2, '*') ORDER BY lot = '*' LIMIT 1"""
_MEMBER = "SELECT * FROM members WHERE member_id = ?"
_MEMBER_BY_CARD = "SELECT m.* FROM member_cards c JOIN members m ON m.member_id = c.member_id WHERE c.card_no = ?"


class CatalogDb:
    """Lookups against the current generation; `swap` installs a new one. Safe to use from any thread."""

    def __init__(self, state_dir: Path, *, cleanup: bool = True, clock: Clock = SYSTEM_CLOCK,
                 db: Database | None = None) -> None:
        self.state_dir = state_dir
        self.clock = clock                  # "now" for prices in force and the catalog's age
        self.cleanup = cleanup
        self._db = db                       # the current generation (None: no catalog yet); `swap` replaces it
        self._retired: list[Database] = []
        self._swap_lock = threading.Lock()

    @classmethod
    def open(cls, state_dir: Path, *, cleanup: bool = True, clock: Clock = SYSTEM_CLOCK) -> CatalogDb:
        """Open the current generation; an unusable one is dropped (the next pull rebuilds it).

        `cleanup=False` (the CLI) never deletes generation files: the running agent may have them open.
        """
        state_dir.mkdir(parents=True, exist_ok=True)
        db: Database | None = None
        name = read_pointer(state_dir)
        if name is not None and not (state_dir / name).exists():
            logger.warning("catalog pointer names %s, which is missing; running without a catalog until the next "
                           "pull or `omo-edge catalog import`", name)
        elif name is not None:
            try:
                db = Database.open(state_dir / name, migrations(), rebuildable=True)
            except StoreError as exc:
                logger.warning("catalog %s cannot be opened (%s); running without a catalog until the next "
                               "pull or `omo-edge catalog import`", name, exc)
        catalog = cls(state_dir, cleanup=cleanup, clock=clock, db=db)
        if cleanup:
            with catalog_lock(state_dir, wait=False) as locked:
                if locked:   # no `catalog import` is loading right now
                    catalog.remove_stale_files(loading=True)
        return catalog

    @property
    def database(self) -> Database | None:
        """The current generation (for writers: deltas and meta updates)."""
        return self._db

    def swap(self, path: Path) -> None:
        """Make the finished, verified file at `path` the current generation (call off the event loop)."""
        with self._swap_lock:
            new = Database.open(path, migrations(), rebuildable=True)
            if new.moved_aside is not None:    # never trade a working catalog for an empty one
                new.close()
                raise StoreError(f"the new catalog {path.name} failed its integrity check; the current one stays")
            write_pointer(self.state_dir, path.name)
            old, self._db = self._db, new
            # Close the generation retired one swap ago: every lookup that took it has long finished.
            for retired in self._retired:
                retired.close()
            self._retired = [old] if old is not None else []
            if self.cleanup:
                self.remove_stale_files()

    def follow_pointer(self) -> bool:
        """Swap to the generation the pointer names if another process (`catalog import`) moved it; drop the
        current one if `omo-edge catalog reset` removed the pointer."""
        name = read_pointer(self.state_dir)
        current = self._db
        if name is None and current is not None:
            self.drop()
            logger.warning("catalog %s was reset by `omo-edge catalog reset`; running without a catalog until "
                           "the next pull", current.path.name)
            return True
        if name is None or (current is not None and current.path.name == name):
            return False
        if not (self.state_dir / name).exists():
            return False
        self.swap(self.state_dir / name)
        logger.info("catalog switched to %s (imported by another process)", name)
        return True

    def drop(self) -> None:
        """Stop using the current generation (after a reset): lookups find nothing until the next load."""
        with self._swap_lock:
            old, self._db = self._db, None
            for retired in self._retired:
                retired.close()
            self._retired = [old] if old is not None else []
            if self.cleanup:
                self.remove_stale_files()

    def remove_stale_files(self, *, loading: bool = False) -> None:
        """Delete generations that are neither current nor still open (old, corrupt, and with `loading`,
        loads a crash left behind: only safe when no load is running)."""
        keep = {db.path.name for db in (self._db, *self._retired) if db is not None}
        for path in self.state_dir.glob(f"{FILE_PREFIX}*"):
            base = path.name.removesuffix("-wal").removesuffix("-shm").removesuffix("-journal")
            if base not in keep and (loading or not base.endswith((".loading", ".download"))):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        for db in (self._db, *self._retired):
            if db is not None:
                db.close()
        self._db, self._retired = None, []

    def _query(self, sql: str, params: tuple[Any, ...], many: bool = False) -> Any:
        """Run one read on the current generation; retry once if a swap closed it under us."""
        for attempt in (1, 2):
            db = self._db
            if db is None:
                return [] if many else None
            try:
                cursor = db.reader().execute(sql, params)
                return cursor.fetchall() if many else cursor.fetchone()
            except sqlite3.Error as exc:
                if attempt == 1 and db is not self._db:
                    continue
                raise translate(exc, "reading the catalog") from exc
        return None

    def product(self, gtin: str, at: float | None = None) -> Product | None:
        """The product with the price in force at `at` (epoch seconds, default now); GTIN-14 expected."""
        when = int(self.clock.time() if at is None else at)
        return _product(self._query(_PRODUCT, (gtin if len(gtin) == 14 else gtin.zfill(14), when)))

    def promotions(self, gtin: str, at: float | None = None) -> list[Promotion]:
        """Promotions that include this GTIN and are valid at `at` (default now)."""
        rows = self._query(_PROMOTIONS, (gtin.zfill(14), int(self.clock.time() if at is None else at)),
                           many=True)
        return [_promotion(r) for r in rows]

    def item(self, gtin: str, at: float | None = None) -> tuple[Product | None, list[Promotion]]:
        """The product and its promotions read in one transaction: both from the same catalog version."""
        params = (gtin.zfill(14), int(self.clock.time() if at is None else at))
        for attempt in (1, 2):
            db = self._db
            if db is None:
                return None, []
            conn = db.reader()
            try:
                conn.execute("BEGIN")
                try:
                    row = conn.execute(_PRODUCT, params).fetchone()
                    promotions = conn.execute(_PROMOTIONS, params).fetchall()
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if attempt == 1 and db is not self._db:
                    continue
                raise translate(exc, "reading the catalog") from exc
            return _product(row), [_promotion(r) for r in promotions]
        return None, []

    def sale_stop(self, gtin: str, lot: str | None) -> SaleStop | None:
        """The stop on this lot of the GTIN, or on every lot of it ("*"); a code without a lot (None) meets only
        the latter."""
        r = self._query(_SALE_STOP, (gtin.zfill(14), "*" if lot is None else lot))
        return None if r is None else SaleStop(*r)

    def member(self, member_id: str) -> Member | None:
        return _member(self._query(_MEMBER, (member_id,)))

    def member_by_card(self, card_no: str) -> Member | None:
        """The member holding this legacy card number."""
        return _member(self._query(_MEMBER_BY_CARD, (card_no,)))

    def coupon(self, coupon_id: str) -> Coupon | None:
        """The coupon as the cloud defines it; checking validity and uses is the session's job."""
        r = self._query("SELECT * FROM coupons WHERE coupon_id = ?", (coupon_id,))
        return None if r is None else Coupon(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7])

    def order(self, order_id: str) -> Order | None:
        r = self._query("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        if r is None:
            return None
        items = tuple((i["gtin"], i["qty"]) for i in json.loads(r[2]))
        return Order(r[0], r[1], items, r[3], r[4], r[5])

    def trusted_key(self, kid: str) -> TrustedKey | None:
        r = self._query("SELECT * FROM trusted_keys WHERE kid = ?", (kid,))
        return None if r is None else TrustedKey(*r)

    def policy(self) -> OfflinePolicy:
        """The offline policy: the cloud's keys over safe defaults (all defaults without a catalog)."""
        return OfflinePolicy.from_rows(self._query("SELECT key, value, version FROM policy", (), many=True))

    def status(self, now: float | None = None) -> CatalogStatus:
        """Version, age and counts per kind, from the meta table (cheap: no counting of big tables)."""
        meta = dict(self._query("SELECT key, value FROM meta", (), many=True))
        return status_from_meta(meta, None if self._db is None else str(self._db.path),
                                self.clock.time() if now is None else now)

    def meta_value(self, key: str) -> str | None:
        row = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def is_stale(self, max_age_s: float, now: float | None = None) -> bool:
        """True when the offline policy applies: no catalog, or not confirmed by the cloud for `max_age_s`."""
        status = self.status(now)
        return status.age_s is None or status.age_s > max_age_s


def read_status(state_dir: Path, clock: Clock = SYSTEM_CLOCK) -> CatalogStatus:
    """The status without opening the catalog for writing (`omo-edge catalog status`)."""
    name = read_pointer(state_dir)
    if name is None or not (state_dir / name).exists():
        return status_from_meta({}, None, clock.time())
    with readonly(state_dir / name) as conn:
        return status_from_meta(dict(conn.execute("SELECT key, value FROM meta")), str(state_dir / name),
                                clock.time())


def status_from_meta(meta: dict[str, str], path: str | None, now: float) -> CatalogStatus:
    version = int(meta.get("version", 0))
    checked = float(meta["checked_at"]) if "checked_at" in meta else None
    counts = json.loads(meta.get("counts", "{}"))
    source = meta.get("source", "unknown" if version else "")
    return CatalogStatus(
        loaded=version > 0, version=version,
        loaded_at=float(meta["loaded_at"]) if "loaded_at" in meta else None, checked_at=checked,
        age_s=None if checked is None else max(0.0, now - checked),
        etag=meta.get("etag"), counts={kind: int(counts.get(kind, 0)) for kind in KINDS}, path=path,
        source=source, cloud_version=int(meta.get("cloud_version", 0)), imported_from=meta.get("imported_from"))


def _product(row: tuple[Any, ...] | None) -> Product | None:
    if row is None:
        return None
    price = row[2] if row[11] is None else row[11]          # a time-limited price in force wins
    member = row[4] if row[12] is None else row[12]
    member = None if member is None else min(member, price)
    # canonical_rate: a file an older agent loaded may spell a rate "0.1" (it is cached: a handful of rates)
    return Product(row[0], row[1], price, canonical_rate(row[3]), member, row[5], bool(row[6]), bool(row[7]), row[8],
                   row[9], row[10], row[2], MappingProxyType(json.loads(row[13])) if row[13] else EMPTY_NAMES,
                   row[14], row[15], bool(row[16]))


def _promotion(r: tuple[Any, ...]) -> Promotion:
    return Promotion(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9], r[10] or 0)


def _member(r: tuple[Any, ...] | None) -> Member | None:
    return None if r is None else Member(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8], r[9])
