"""The random audit's chance and the k lines (agent/session/rules/audit_policy.py, pure)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog.records import OfflinePolicy
from agent.session.rules.audit_policy import RiskFacts, audited, pick_lines, probability_bp, tenure_days

LINES = tuple(f"L{n}" for n in range(1, 13))


def test_the_same_visit_always_gets_the_same_lines_in_basket_order() -> None:
    picked = pick_lines("01a2531f-c07d-7111-ad72-64d5c7e26176", LINES, 3)
    assert picked == pick_lines("01a2531f-c07d-7111-ad72-64d5c7e26176", LINES, 3)
    assert len(picked) == 3 and list(picked) == sorted(picked, key=LINES.index)


def test_other_visits_get_other_lines() -> None:
    assert len({pick_lines(f"visit-{n}", LINES, 3) for n in range(40)}) > 20


def test_the_draw_audits_below_the_chance_only() -> None:
    assert audited(0.0299, 300) and not audited(0.03, 300) and not audited(0.0, 0) and audited(0.9999, 10000)


def test_tenure_counts_whole_days_to_the_utc_date_and_none_when_unknown() -> None:
    assert tenure_days("2026-12-01", 1_796_083_200.0 + 86400 * 6.5) == 6     # 2026-12-07 12:00 UTC
    assert tenure_days(None, 0.0) is None


BP = st.integers(min_value=0, max_value=20000)


@settings(max_examples=150, deadline=None)
@given(base=BP, value_bp=BP, items_bp=BP, finding=BP, clean=BP, low=BP, high=BP,
       value=st.integers(min_value=0, max_value=10**7), items=st.integers(min_value=0, max_value=500),
       audits=st.integers(min_value=0, max_value=40), findings=st.integers(min_value=0, max_value=40))
def test_the_chance_is_a_basis_point_share_within_the_floor_and_cap(
        base: int, value_bp: int, items_bp: int, finding: int, clean: int, low: int, high: int, value: int,
        items: int, audits: int, findings: int) -> None:
    policy = OfflinePolicy(audit_base_bp=base, audit_value_bp=value_bp, audit_items_bp=items_bp,
                           audit_finding_bp=finding, audit_clean_bp=clean, audit_min_bp=min(low, 10000),
                           audit_max_bp=high)
    facts = RiskFacts(value, items, False, True, 400, max(audits, findings), findings)
    bp = probability_bp(policy, facts)
    assert 0 <= bp <= 10000
    assert bp >= min(low, 10000) and (bp <= high or bp == min(low, 10000))
    # Reference: the same sum written out, then clamped in the documented order.
    raw = (base + value_bp * (value // 10000) + items_bp * (items // 10) + finding * findings
           - clean * (max(audits, findings) - findings))
    assert bp == max(min(low, 10000), min(high, 10000, raw), 0)
