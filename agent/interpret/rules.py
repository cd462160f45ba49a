"""The `[interpret]` and `[trust]` config sections and the `Rules` the router reads: RCN layouts, card and
payment-code rules, the keys that sign app tokens.

Parsed once at start like every section; `build_rules` then loads the `[trust]` keys (the only I/O) so that
`interpret()` itself never touches a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config_table import Table
from agent.interpret.gs1 import DEFAULT_SUBSTITUTES
from agent.interpret.rcn import BUILTIN, RcnTemplate, template_problem, templates_for
from agent.interpret.tokens import load_keys

if TYPE_CHECKING:   # cryptography loads with the first key file (agent.interpret.tokens.load_keys)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKS = ("none", "luhn", "gs1")
# ISO 4217: minor-unit digits where not 2, and numeric codes (AI 393x carries the numeric code).
_EXPONENT = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
_NUMERIC = {"JPY": "392", "EUR": "978", "USD": "840", "GBP": "826", "CNY": "156", "KRW": "410", "SEK": "752",
            "NOK": "578", "DKK": "208", "CHF": "756", "AUD": "036", "CAD": "124", "TWD": "901", "HKD": "344",
            "SGD": "702", "THB": "764", "PLN": "985", "CZK": "203", "HUF": "348", "NZD": "554", "INR": "356"}


@dataclass(frozen=True, slots=True)
class CodeRule:
    """A numeric code recognised by prefix and length (legacy member cards, wallet payment codes)."""

    name: str
    prefixes: tuple[str, ...]
    lengths: tuple[int, ...]
    check: str = "none"      # none | luhn | gs1 (mod-10 with weights 3,1)


# Customer-presented wallet codes as their operators document them (16-24 digits); examples to adjust per store.
DEFAULT_PAYMENT_CODES = (
    CodeRule("alipay", ("25", "26", "27", "28", "29", "30"), tuple(range(16, 25))),
    CodeRule("wechat-pay", ("10", "11", "12", "13", "14", "15"), (18,)),
)


@dataclass(frozen=True, slots=True)
class InterpretSection:
    rcn_templates: str = "jp"
    rcn: tuple[RcnTemplate, ...] = ()
    member_cards: tuple[CodeRule, ...] = ()
    payment_codes: tuple[CodeRule, ...] = DEFAULT_PAYMENT_CODES
    gs_substitutes: tuple[str, ...] = DEFAULT_SUBSTITUTES
    block_expired: bool = True
    accept_staff_tokens: bool = True
    unsynced_skew_s: int = 3600


@dataclass(frozen=True, slots=True)
class TrustSection:
    """`[trust]`: the public keys that sign app tokens, and how far a token's clock may be off."""

    keys: tuple[Path, ...] = ()
    clock_skew_s: int = 300


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything `interpret()` consults, built once at start."""

    rcn: Mapping[str, RcnTemplate] = field(default_factory=lambda: templates_for("jp"))
    member_cards: tuple[CodeRule, ...] = ()
    payment_codes: tuple[CodeRule, ...] = DEFAULT_PAYMENT_CODES
    gs_substitutes: tuple[str, ...] = DEFAULT_SUBSTITUTES
    block_expired: bool = True
    token_types: tuple[str, ...] = ("member", "coupon", "order", "staff")
    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    skew_s: int = 300
    unsynced_skew_s: int = 3600
    currency: str = "JPY"

    @property
    def max_skew_s(self) -> int:
        """The widest `exp` allowance the verifier may apply: what agent.session.records.seen_tokens must keep
        entries for."""
        return max(self.skew_s, self.unsynced_skew_s)

    @property
    def currency_exponent(self) -> int:
        return _EXPONENT.get(self.currency, 2)

    @property
    def currency_numeric(self) -> str | None:
        return _NUMERIC.get(self.currency)


def build_rules(section: InterpretSection, trust_keys: tuple[Any, ...], skew_s: int, currency: str) -> Rules:
    """Rules from the parsed sections; loads the trust keys (raises ConfigError naming a bad key file)."""
    types = ("member", "coupon", "order") + (("staff",) if section.accept_staff_tokens else ())
    return Rules(rcn=templates_for(section.rcn_templates, section.rcn), member_cards=section.member_cards,
                 payment_codes=section.payment_codes, gs_substitutes=section.gs_substitutes,
                 block_expired=section.block_expired, token_types=types, keys=load_keys(trust_keys),
                 skew_s=skew_s, unsynced_skew_s=section.unsynced_skew_s, currency=currency)


def parse_section(t: Table) -> InterpretSection:
    """`[interpret]`; every key optional. Unknown keys and bad templates are refused with the fix."""
    section = InterpretSection(
        rcn_templates=t.choice("rcn_templates", "jp", (*BUILTIN, "none")),
        rcn=tuple(_template(sub) for sub in _tables(t, "rcn")),
        member_cards=tuple(_rule(sub) for sub in _tables(t, "member_cards")),
        payment_codes=_payment_codes(t),
        gs_substitutes=_strings(t, "gs_substitutes", DEFAULT_SUBSTITUTES),
        block_expired=t.boolean("block_expired", True),
        accept_staff_tokens=t.boolean("accept_staff_tokens", True),
        unsynced_skew_s=t.integer("unsynced_skew_s", 3600, 0, 7 * 86400),
    )
    t.finish()
    return section


def parse_trust(t: Table) -> TrustSection:
    """`[trust]`; every key optional. A key file that cannot be read is refused here, its content by `build_rules`."""
    section = TrustSection(keys=t.readable_files("keys"), clock_skew_s=t.integer("clock_skew_s", 300, 0, 86400))
    t.finish()
    return section


def _payment_codes(t: Table) -> tuple[CodeRule, ...]:
    """Absent: the defaults; present (even empty, to turn recognition off): exactly what is written."""
    present = t.has("payment_codes")
    rules = tuple(_rule(sub) for sub in _tables(t, "payment_codes"))
    return rules if present else DEFAULT_PAYMENT_CODES


def _tables(t: Table, key: str) -> list[Table]:
    values: list[Any] = t._get(key, [], list, f"an array of tables [[interpret.{key}]]")
    tables = []
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise t.error(key, f"entry {index + 1} is not a table", f"write each as [[interpret.{key}]]")
        tables.append(Table(value, f"interpret.{key} #{index + 1}", t.file))
    return tables


def _strings(t: Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    values: list[Any] = t._get(key, list(default), list, "a list of strings")
    if not all(isinstance(v, str) and v for v in values):
        raise t.error(key, f"{values!r} must hold non-empty strings", f"write {key} = [\"~\", \"<GS>\"]")
    return tuple(values)


def _digits_list(t: Table, key: str) -> tuple[str, ...]:
    values = _strings(t, key, ())
    if not values or not all(v.isascii() and v.isdigit() for v in values):
        raise t.error(key, f"{values!r} must be a non-empty list of digit strings", f"write {key} = [\"25\", \"26\"]")
    return values


def _template(t: Table) -> RcnTemplate:
    template = RcnTemplate(name=t.string("name", pattern=r"[a-z0-9][a-z0-9_-]{0,31}"),
                           prefixes=_digits_list(t, "prefixes"), pattern=t.string("pattern"),
                           measure=t.choice("measure", "price", ("price", "weight", "count", "none")),
                           scale=t.integer("scale", 1, 1, 1_000_000))
    t.finish()
    problem = template_problem(template)
    if problem is not None:
        raise t.error("pattern", problem, "see docs/interpretation.md, \"RCN templates\"")
    return template


def _rule(t: Table) -> CodeRule:
    name = t.string("name", pattern=r"[a-z0-9][a-z0-9_-]{0,31}")
    lengths: list[Any] = t._get("lengths", [], list, "a list of integers")
    if not lengths or not all(isinstance(n, int) and not isinstance(n, bool) and 4 <= n <= 32 for n in lengths):
        raise t.error("lengths", f"{lengths!r} must be a non-empty list of lengths 4-32", "write lengths = [16, 18]")
    rule = CodeRule(name=name, prefixes=_digits_list(t, "prefixes"), lengths=tuple(lengths),
                    check=t.choice("check", "none", CHECKS))
    t.finish()
    return rule
