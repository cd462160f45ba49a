"""The jti replay cache in a real SQLite file, inside the caller's write transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.interpret.tokens import Claims, Rejection
from agent.session.records import seen_tokens
from agent.store import Database

NOW = 1_790_000_000.0
SKEW = 300


def claims(typ: str, jti: str = "j-1", exp: int = int(NOW) + 600) -> Claims:
    return Claims(kid="cloud-test", typ=typ, sub="M-7", exp=exp, iat=int(NOW), jti=jti,
                  cid="C-1" if typ == "coupon" else None)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "lane.db", {seen_tokens.COMPONENT: seen_tokens.MIGRATIONS})
    yield database
    database.close()


def use(db: Database, token: Claims, session: str | None = "s-1", now: float = NOW) -> Rejection | None:
    return db.write_blocking(seen_tokens.claim, token, session, now, SKEW)


def test_coupon_works_in_one_visit_only(db: Database) -> None:
    assert use(db, claims("coupon")) is None
    assert use(db, claims("coupon")) is None, "scanned again in its own visit: still that visit's coupon"
    assert use(db, claims("coupon"), session="s-2") is Rejection.REPLAYED


def test_a_visit_without_a_sale_releases_its_coupon_but_not_its_member_token(db: Database) -> None:
    assert use(db, claims("coupon")) is None
    assert use(db, claims("member", jti="j-m")) is None
    assert db.write_blocking(seen_tokens.release, "s-1") == 1
    assert use(db, claims("coupon"), session="s-2") is None
    assert use(db, claims("member", jti="j-m"), session="s-2") is Rejection.REPLAYED


def test_order_works_once(db: Database) -> None:
    assert use(db, claims("order")) is None
    assert use(db, claims("order")) is Rejection.REPLAYED


def test_member_token_may_be_rescanned_in_its_own_session_only(db: Database) -> None:
    assert use(db, claims("member")) is None
    assert use(db, claims("member")) is None
    assert use(db, claims("member"), session="s-2") is Rejection.REPLAYED


def test_member_token_without_a_session_is_single_use(db: Database) -> None:
    assert use(db, claims("member"), session=None) is None
    assert use(db, claims("member"), session=None) is Rejection.REPLAYED


def test_same_jti_under_another_type_is_a_replay(db: Database) -> None:
    assert use(db, claims("member")) is None
    assert use(db, claims("staff")) is Rejection.REPLAYED


def test_use_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    first = Database.open(path, {seen_tokens.COMPONENT: seen_tokens.MIGRATIONS})
    first.write_blocking(seen_tokens.claim, claims("coupon"), "s-1", NOW, SKEW)
    first.close()
    again = Database.open(path, {seen_tokens.COMPONENT: seen_tokens.MIGRATIONS})
    try:
        assert again.write_blocking(seen_tokens.claim, claims("coupon"), "s-9", NOW, SKEW) is Rejection.REPLAYED
    finally:
        again.close()


def test_rolled_back_scan_does_not_burn_the_coupon(db: Database) -> None:
    def claim_then_fail(conn: sqlite3.Connection) -> None:
        seen_tokens.claim(conn, claims("coupon"), "s-1", NOW, SKEW)
        raise RuntimeError("the sale line could not be written")

    with pytest.raises(RuntimeError):
        db.write_blocking(claim_then_fail)
    assert use(db, claims("coupon")) is None


def test_prune_forgets_only_tokens_past_exp_plus_skew(db: Database) -> None:
    use(db, claims("coupon", jti="old", exp=int(NOW) - 400))
    use(db, claims("coupon", jti="new", exp=int(NOW) + 600))
    assert db.write_blocking(seen_tokens.prune, NOW) == 1
    assert not seen_tokens.seen(db.reader(), "old")
    assert seen_tokens.seen(db.reader(), "new")
