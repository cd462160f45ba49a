"""Typed values inside catalog lines: a coupon's `conditions` and an offline-policy line's `value`.

Why apart from `lines.py`: these are the nested, free-looking parts of a line, where loose reading used to
change money (a `min_spend` of 5000.0 ignored, `"member_only": "false"` read as true, a GTIN string iterated
as characters). Each key has one type; anything else is refused naming `conditions.<key>` and the fix.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from agent.catalog.fields import bool_field, gtin_list, int_field, known_fields, refuse, text_list
from agent.catalog.records import POLICY_CHOICES, OfflinePolicy

CONDITIONS = frozenset({"min_spend", "gtins", "departments", "member_only"})
POLICY_DEFAULTS: dict[str, Any] = {f.name: getattr(OfflinePolicy(), f.name) for f in fields(OfflinePolicy)
                                   if f.name != "version"}


def coupon_conditions(d: dict[str, Any], line: int) -> dict[str, Any]:
    """The coupon's conditions with each key of its type; GTINs as GTIN-14 (absent: no condition).

    `min_spend`: whole minor units; `gtins`: a list of GTIN strings; `departments`: a list of strings;
    `member_only`: a JSON boolean (absent: the session's default, a member is needed).
    """
    conditions = d.get("conditions", {})
    if type(conditions) is not dict:
        raise refuse(line, "conditions", f"must be an object, got {conditions!r}",
                     'write e.g. {"min_spend": 5000, "member_only": true}')
    known_fields(conditions, CONDITIONS, line, "coupon conditions", prefix="conditions.")
    typed: dict[str, Any] = {}
    if "min_spend" in conditions:
        typed["min_spend"] = int_field(conditions, "min_spend", line, required=True, field="conditions.min_spend")
    if "gtins" in conditions:
        typed["gtins"] = gtin_list(conditions["gtins"], line, "conditions.gtins")
    if "departments" in conditions:
        typed["departments"] = text_list(conditions["departments"], line, "conditions.departments")
    if "member_only" in conditions:
        typed["member_only"] = bool(bool_field(conditions, "member_only", line, field="conditions.member_only"))
    return typed


def policy_value(key: str, value: object, line: int) -> None:
    """Refuse an offline-policy key the agent does not know, or a value not of that key's type."""
    default = POLICY_DEFAULTS.get(key)
    if default is None:
        raise refuse(line, "key", f"{key!r} is not an offline-policy key",
                     f"use one of {', '.join(POLICY_DEFAULTS)} (docs/catalog.md, offline policy)")
    if isinstance(default, str):
        choices = POLICY_CHOICES[key]
        ok, kind, example = value in choices, f"one of {', '.join(choices)}", f'"{default}"'
    elif isinstance(default, bool):
        ok, kind, example = type(value) is bool, "true or false", "false"
    elif isinstance(default, int):
        ok, kind, example = type(value) is int and value >= 0, "a whole number >= 0", str(default)
    elif isinstance(default, tuple):
        ok = type(value) is list and all(type(v) is str for v in value)
        kind, example = "a list of strings", '["card", "cash"]'
    else:
        ok, kind, example = type(value) is type(default), type(default).__name__, repr(default)
    if not ok:
        raise refuse(line, "value", f"{key} must be {kind}, got {value!r}", f"write e.g. {example} (JSON, no quotes "
                     "around numbers or booleans)")
