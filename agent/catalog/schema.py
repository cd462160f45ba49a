"""The offline catalog's SQLite schema as named migrations, kept in its own file apart from the lane's sales.

Why its own file: a damaged or stale cache can be thrown away and rebuilt from the cloud; sales cannot.
Every record carries the catalog `version` it came from. Money is integer minor units; rates are decimal
strings; times are UTC epoch seconds (NULL: open-ended). The big tables are WITHOUT ROWID so that a point
lookup walks one B-tree, not an index and then the table.
"""

from __future__ import annotations

from agent.store import Migration

COMPONENT = "catalog"

M001_TABLES = """
CREATE TABLE products (
    gtin TEXT PRIMARY KEY,              -- GTIN-14
    name TEXT NOT NULL,
    price INTEGER NOT NULL,             -- minor units; per unit of `unit` for weighed items
    tax_rate TEXT NOT NULL,             -- decimal string, "0.08"
    member_price INTEGER,
    department TEXT,
    age_restricted INTEGER NOT NULL DEFAULT 0,
    sale_stop INTEGER NOT NULL DEFAULT 0,
    deposit INTEGER NOT NULL DEFAULT 0,
    unit TEXT,                          -- NULL: sold by piece; "kg", "100g": weighed
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE prices (                   -- time-limited prices; the latest starting window wins
    gtin TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    price INTEGER NOT NULL,
    member_price INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (gtin, valid_from)
) WITHOUT ROWID;
CREATE TABLE promotions (
    promo_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,                 -- bundle | percent | amount
    quantity INTEGER NOT NULL,          -- items needed (bundle size, or minimum quantity)
    bundle_price INTEGER,               -- bundle: price of `quantity` items ("2 for 300")
    percent TEXT,                       -- percent: decimal string, "0.10"
    amount INTEGER,                     -- amount: minor units off each qualifying item
    member_only INTEGER NOT NULL DEFAULT 0,
    valid_from INTEGER,
    valid_to INTEGER,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE promotion_items (        -- columns in key order: SQLite 3.40's quick_check misreads others
    gtin TEXT NOT NULL,
    promo_id TEXT NOT NULL,
    PRIMARY KEY (gtin, promo_id)
) WITHOUT ROWID;
CREATE INDEX promotion_items_promo ON promotion_items (promo_id);
CREATE TABLE coupons (
    coupon_id TEXT PRIMARY KEY,
    amount INTEGER,                     -- one of amount / percent
    percent TEXT,
    conditions TEXT NOT NULL DEFAULT '{}',   -- JSON: min_spend, gtins, departments, member_only
    valid_from INTEGER,
    valid_to INTEGER,
    max_uses INTEGER,                   -- NULL: unlimited
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE members (
    member_id TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    status TEXT NOT NULL,               -- active | suspended | closed
    points INTEGER NOT NULL DEFAULT 0,  -- balance as of `version`
    consent_interest INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE member_cards (             -- legacy plastic card numbers
    card_no TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX member_cards_member ON member_cards (member_id);
CREATE TABLE orders (                   -- pickup orders
    order_id TEXT PRIMARY KEY,
    member_id TEXT,
    items TEXT NOT NULL,                -- JSON list of {"gtin", "qty"}
    status TEXT NOT NULL,
    locker TEXT,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE trusted_keys (             -- Ed25519 public keys (PEM) that sign app QR codes
    kid TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    valid_from INTEGER,
    valid_to INTEGER,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE policy (                   -- offline policy: data from the cloud over safe defaults in code
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,                -- JSON
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (                     -- version, loaded_at, checked_at, etag, counts, checksum
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

# A product's names per language ({"ja": "緑茶 500ml", "en": "Green tea 500ml"}, JSON); NULL: only `name`.
# The shopper's screen shows the name in its language and falls back to `name`.
M002_PRODUCT_NAMES = "ALTER TABLE products ADD COLUMN names TEXT;"

# Sale stops by lot (recalls, quality holds), keyed by (GTIN-14, AI 10 lot); lot "*" stops every lot of the GTIN.
# And the expiry-day markdown's reach: how many days before the label's expiry it starts (NULL for other types).
M003_SALE_STOPS = """
CREATE TABLE sale_stops (               -- columns in key order: SQLite 3.40's quick_check misreads others
    gtin TEXT NOT NULL,                 -- GTIN-14
    lot TEXT NOT NULL,                  -- GS1 AI 10 as printed; "*": every lot
    reason TEXT NOT NULL,               -- recall | quality | ...
    message TEXT NOT NULL,              -- what the shopper is told to do
    message_ja TEXT,
    version INTEGER NOT NULL,
    PRIMARY KEY (gtin, lot)
) WITHOUT ROWID;
ALTER TABLE promotions ADD COLUMN days_before INTEGER;
"""

# The member's tenure and audit history, cached from the cloud for the random audit's risk factors.
M004_MEMBER_AUDITS = """
ALTER TABLE members ADD COLUMN since TEXT;               -- ISO date the member joined; NULL: not known
ALTER TABLE members ADD COLUMN audits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN audit_findings INTEGER NOT NULL DEFAULT 0;
"""

# What a unit weighs in the bag, for the bagging-area scale: integer grams and the tolerance (NULL: not given,
# the lane's default or a learned weight), and whether the scale checks it at all (0: it does).
M005_PRODUCT_WEIGHTS = """
ALTER TABLE products ADD COLUMN weight_g INTEGER;
ALTER TABLE products ADD COLUMN weight_tolerance_g INTEGER;
ALTER TABLE products ADD COLUMN weight_exempt INTEGER NOT NULL DEFAULT 0;
"""

# The receipt a member chose in the app (paper | app | none); NULL: the lane's [receipts] default.
M006_MEMBER_RECEIPT = "ALTER TABLE members ADD COLUMN receipt TEXT;"

MIGRATIONS = (Migration("m001_tables", M001_TABLES), Migration("m002_product_names", M002_PRODUCT_NAMES),
              Migration("m003_sale_stops", M003_SALE_STOPS), Migration("m004_member_audits", M004_MEMBER_AUDITS),
              Migration("m005_product_weights", M005_PRODUCT_WEIGHTS),
              Migration("m006_member_receipt", M006_MEMBER_RECEIPT))

# Kind name -> (table, key column) for counts and deletes; the order of `omo-edge catalog status`.
KINDS: dict[str, tuple[str, str]] = {
    "product": ("products", "gtin"),
    "price": ("prices", "gtin"),
    "promotion": ("promotions", "promo_id"),
    "coupon": ("coupons", "coupon_id"),
    "member": ("members", "member_id"),
    "order": ("orders", "order_id"),
    "key": ("trusted_keys", "kid"),
    "policy": ("policy", "key"),
    "sale_stop": ("sale_stops", "gtin"),    # keyed by (gtin, lot): a delete names both (agent/catalog/delta.py)
}


def migrations() -> dict[str, tuple[Migration, ...]]:
    """The mapping `Database.open` takes."""
    return {COMPONENT: MIGRATIONS}
