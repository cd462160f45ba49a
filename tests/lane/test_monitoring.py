"""The monitoring kit in docs/: the Grafana dashboard, the alert rules, the scraping examples and monitoring.md.

Every metric a panel or an alert reads must be exported by a running lane (simulators/fixtures/metrics.py), so a
renamed metric breaks this test, not a store's dashboard. Where Debian's promtool is installed (.ci/bootstrap
installs the prometheus package), the PromQL is parsed by Prometheus itself and the alerts are unit-tested with
`promtool test rules` on series that should and should not fire them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulators.fixtures.metrics import Scrape

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD: dict[str, Any] = json.loads((DOCS / "grafana-dashboard.json").read_text())
ALERTS: dict[str, Any] = yaml.safe_load((DOCS / "alerts.yml").read_text())
RULES: list[dict[str, Any]] = [rule for group in ALERTS["groups"] for rule in group["rules"] if "alert" in rule]
RECORDED: dict[str, dict[str, Any]] = {rule["record"]: rule for group in ALERTS["groups"] for rule in group["rules"]
                                       if "record" in rule}
METRIC = re.compile(r"\bomo_edge_[a-z0-9_]+")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is missing (apt-get install prometheus)")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$store": ".*", "$lane": ".*"}
# Every lane's own Prometheus agent scrapes 127.0.0.1:8765, so a lane is told apart by `store` and `lane` alone.
LANE_PICKED = 'store=~"$store", lane=~"$lane"'


def dashboard_queries() -> list[str]:
    queries = [t["expr"] for panel in DASHBOARD["panels"] for t in panel.get("targets", [])]
    return queries + [v["query"]["query"] for v in DASHBOARD["templating"]["list"] if v["type"] == "query"]


def promql(expr: str) -> str:
    """A dashboard query as Prometheus gets it once Grafana has put in its variables."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=60)


def exported(scrape: Scrape) -> set[str]:
    return {sample.name for sample in scrape.samples}


def test_every_metric_the_dashboard_queries_is_exported_by_a_running_lane(lane_scrape: Scrape) -> None:
    queries = dashboard_queries()
    assert len(queries) > 25 and all(METRIC.search(q) for q in queries), "each panel reads omo-edge metrics"
    missing = {name for q in queries for name in METRIC.findall(q)} - exported(lane_scrape)
    assert not missing, f"the dashboard queries metrics no lane exports: {sorted(missing)}"


def test_every_dashboard_panel_uses_the_chosen_data_source_and_lane() -> None:
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    for panel in panels:
        for target in panel["targets"]:
            selectors = re.findall(r"\bomo_edge_[a-z0-9_]+(\{[^}]*\})?", target["expr"])
            assert selectors and all(LANE_PICKED in s for s in selectors), (panel["title"], target["expr"])
    assert len({p["id"] for p in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])


def test_the_dashboard_picks_lanes_by_store_and_lane_never_by_instance() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"] if v["type"] == "query"}
    assert set(variables) == {"store", "lane"}
    assert variables["store"]["query"]["query"] == "label_values(omo_edge_build_info, store)"
    assert variables["lane"]["query"]["query"] == 'label_values(omo_edge_build_info{store=~"$store"}, lane)'
    uses_instance = [q for q in dashboard_queries() if "instance" in q]
    legends = [t.get("legendFormat", "") for p in DASHBOARD["panels"] for t in p.get("targets", [])]
    assert not uses_instance and not [text for text in legends if "instance" in text], uses_instance


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{n}", "expr": promql(q)}
                                                          for n, q in enumerate(dashboard_queries())
                                                          if not q.startswith("label_values")]}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(tmp_path / "dashboard.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_the_alerts_read_is_exported_by_a_running_lane(lane_scrape: Scrape) -> None:
    names = {name for rule in RULES for name in METRIC.findall(rule["expr"])}
    assert not names - exported(lane_scrape), sorted(names - exported(lane_scrape))
    others = {word for rule in RULES for word in re.findall(r"\b([a-z_]+)\{", rule["expr"])} - names
    assert others == {"up"}, "besides the lane's metrics, only Prometheus's own `up` is read"


def test_each_alert_has_a_severity_a_summary_and_a_description_naming_the_fix() -> None:
    assert len(RULES) >= 8
    for rule in RULES:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert "Fix: " in rule["annotations"]["description"], rule["alert"]


def test_the_alerts_cover_what_store_it_must_act_on() -> None:
    exprs = " ".join(rule["expr"] for rule in RULES)
    for metric in ("omo_edge_component_state", "omo_edge_outbox_depth", "omo_edge_outbox_oldest_age_seconds",
                   "omo_edge_catalog_age_seconds", "omo_edge_mqtt_client_cert_expiry_timestamp_seconds",
                   "omo_edge_disk_free_bytes"):
        assert metric in exprs, metric


@needs_promtool
def test_the_alert_rules_pass_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(DOCS / "alerts.yml"))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


LANE_LABELS = {"instance": "127.0.0.1:8765", "job": "omo-edge", "store": "store-001", "lane": "lane-01"}
LANE = ", ".join(f'{key}="{value}"' for key, value in LANE_LABELS.items())
MB = 1024 * 1024
# alert -> (input series, when to evaluate, the labels the alert carries besides severity)
FIRING: dict[str, tuple[list[tuple[str, str]], str, dict[str, str]]] = {
    "OmoEdgeAgentDown": ([(f"up{{{LANE}}}", "0x10")], "5m", {}),
    # A register powered off at minute 10: its agent sent `up` until then, and nothing since.
    "OmoEdgeLaneNotReporting": ([(f"up{{{LANE}}}", "1x10 _x30")], "25m", {}),
    # The example agent config copied to lane-02 unchanged: its samples arrive labelled lane-01.
    "OmoEdgeLaneLabelledWrong": ([(f'omo_edge_build_info{{{LANE}, version="1.0", store_id="store-001", '
                                   'lane_id="lane-02"}', "1x20")], "15m",
                                 {"version": "1.0", "store_id": "store-001", "lane_id": "lane-02"}),
    "OmoEdgeScannerDown": ([(f'omo_edge_component_state{{{LANE}, component="device:handheld", state="down"}}',
                             "1x10")], "5m", {"component": "device:handheld", "state": "down"}),
    "OmoEdgeComponentDown": ([(f'omo_edge_component_state{{{LANE}, component="mqtt", state="down"}}', "1x10")],
                             "10m", {"component": "mqtt", "state": "down"}),
    "OmoEdgeOutboxBacklogGrowing": ([(f'omo_edge_outbox_depth{{{LANE}, class="scans"}}', "0+50x100"),
                                     (f'omo_edge_outbox_depth{{{LANE}, class="sales"}}', "0x100")], "60m", {}),
    "OmoEdgeSaleUnconfirmed": ([(f'omo_edge_outbox_oldest_age_seconds{{{LANE}, class="sales"}}', "0+60x30")],
                               "20m", {"class": "sales"}),
    "OmoEdgeCatalogStale": ([(f"omo_edge_catalog_age_seconds{{{LANE}}}", "90000+60x30"),
                             (f"omo_edge_catalog_max_age_seconds{{{LANE}}}", "86400x30")], "20m", {}),
    "OmoEdgeNoCatalog": ([(f"omo_edge_catalog_loaded{{{LANE}}}", "0x10")], "10m", {}),
    "OmoEdgeClientCertificateExpiring": ([(f"omo_edge_mqtt_client_cert_expiry_timestamp_seconds{{{LANE}}}",
                                           f"{10 * 86400}x150")], "2h", {}),
    "OmoEdgeClientCertificateExpiresSoon": ([(f"omo_edge_mqtt_client_cert_expiry_timestamp_seconds{{{LANE}}}",
                                              f"{2 * 86400}x10")], "5m", {}),
    "OmoEdgeDiskNearlyFull": ([(f"omo_edge_disk_free_bytes{{{LANE}}}", f"{200 * MB}x10"),
                               (f"omo_edge_disk_shed_scans_free_bytes{{{LANE}}}", f"{256 * MB}x10")], "10m", {}),
    "OmoEdgeSalesStoppedDiskFull": ([(f"omo_edge_disk_free_bytes{{{LANE}}}", f"{50 * MB}x10"),
                                     (f"omo_edge_disk_stop_sales_free_bytes{{{LANE}}}", f"{64 * MB}x10")], "5m", {}),
    "OmoEdgeDiskFillingUp": ([(f"omo_edge_disk_free_bytes{{{LANE}}}", f"{10_000 * MB}-{10 * MB}x500"),
                              (f"omo_edge_disk_stop_sales_free_bytes{{{LANE}}}", f"{64 * MB}x500")], "7h", {}),
}
# A healthy lane: none of the alerts fires.
HEALTHY = [(f"up{{{LANE}}}", "1x150"),
           (f'omo_edge_build_info{{{LANE}, version="1.0", store_id="store-001", lane_id="lane-01"}}', "1x150"),
           (f'omo_edge_component_state{{{LANE}, component="device:handheld", state="ok"}}', "1x150"),
           (f'omo_edge_component_state{{{LANE}, component="device:handheld", state="down"}}', "0x150"),
           (f'omo_edge_outbox_depth{{{LANE}, class="scans"}}', "100x150"),
           (f'omo_edge_outbox_oldest_age_seconds{{{LANE}, class="sales"}}', "5x150"),
           (f"omo_edge_catalog_loaded{{{LANE}}}", "1x150"),
           (f"omo_edge_catalog_age_seconds{{{LANE}}}", "600x150"),
           (f"omo_edge_catalog_max_age_seconds{{{LANE}}}", "86400x150"),
           (f"omo_edge_mqtt_client_cert_expiry_timestamp_seconds{{{LANE}}}", f"{90 * 86400}x150"),
           (f"omo_edge_disk_free_bytes{{{LANE}}}", f"{5000 * MB}x150"),
           (f"omo_edge_disk_shed_scans_free_bytes{{{LANE}}}", f"{256 * MB}x150"),
           (f"omo_edge_disk_stop_sales_free_bytes{{{LANE}}}", f"{64 * MB}x150")]


# Alerts on a per-lane aggregate carry the lane's names, not the scrape target's.
PER_LANE = {"OmoEdgeLaneNotReporting"}


def expected_alert(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The alert as Prometheus should raise it: the series' labels, the rule's, and its annotations filled in."""
    series = ({"store": LANE_LABELS["store"], "lane": LANE_LABELS["lane"]} if rule["alert"] in PER_LANE
              else LANE_LABELS)
    all_labels = {**series, **labels, **rule["labels"]}
    annotations = {key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: all_labels[m.group(1)], text)
                   for key, text in rule["annotations"].items()}
    return {"exp_labels": all_labels, "exp_annotations": annotations}


@needs_promtool
def test_each_alert_fires_on_what_it_names_and_none_on_a_healthy_lane(tmp_path: Path) -> None:
    by_name = {rule["alert"]: rule for rule in RULES}
    assert set(FIRING) == set(by_name), "every alert in docs/alerts.yml needs a case here"
    tests: list[dict[str, Any]] = [
        {"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in series],
         "alert_rule_test": [{"eval_time": at, "alertname": name,
                              "exp_alerts": [expected_alert(by_name[name], labels)]}]}
        for name, (series, at, labels) in FIRING.items()]
    tests.append({"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in HEALTHY],
                  "alert_rule_test": [{"eval_time": "2h", "alertname": name, "exp_alerts": []} for name in by_name]})
    result = promtool_test_rules(tmp_path, tests)
    assert result.returncode == 0, result.stdout + result.stderr


def promtool_test_rules(tmp_path: Path, tests: list[dict[str, Any]],
                        evaluation_interval: str = "1m") -> subprocess.CompletedProcess[str]:
    """`promtool test rules` on docs/alerts.yml with these test groups."""
    unit = tmp_path / "alerts-test.yml"
    unit.write_text(yaml.safe_dump({"rule_files": [str(DOCS / "alerts.yml")],
                                    "evaluation_interval": evaluation_interval,
                                    "tests": tests}))
    return promtool("test", "rules", str(unit))


def lane_series(lane: str, store: str = "store-001") -> str:
    """`up` as a lane's Prometheus agent sends it: every lane's target is 127.0.0.1:8765, told apart by labels."""
    return f'up{{instance="127.0.0.1:8765", job="omo-edge", store="{store}", lane="{lane}"}}'


def not_reporting(rule: dict[str, Any], lane: str, store: str = "store-001") -> dict[str, Any]:
    labels = {"store": store, "lane": lane, **rule["labels"]}
    annotations = {key: text.replace("{{ $labels.lane }}", lane).replace("{{ $labels.store }}", store)
                   for key, text in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": annotations}


@needs_promtool
def test_a_powered_off_register_is_alerted_on_the_central_side_and_only_that_lane(tmp_path: Path) -> None:
    """Lane-02 is powered off at minute 10 and sends nothing after: no `up == 0` ever arrives, so
    OmoEdgeAgentDown cannot fire; the central side notices the silence after 10 minutes, for that lane alone
    (lane-01, behind the same 127.0.0.1:8765, keeps reporting), and names it by store and lane."""
    rule = next(rule for rule in RULES if rule["alert"] == "OmoEdgeLaneNotReporting")
    series = [{"series": lane_series("lane-01"), "values": "1x60"},
              {"series": lane_series("lane-02"), "values": "1x10 _x50"}]
    checks = [{"eval_time": "15m", "alertname": "OmoEdgeLaneNotReporting", "exp_alerts": []},
              {"eval_time": "25m", "alertname": "OmoEdgeLaneNotReporting",
               "exp_alerts": [not_reporting(rule, "lane-02")]},
              {"eval_time": "60m", "alertname": "OmoEdgeLaneNotReporting",
               "exp_alerts": [not_reporting(rule, "lane-02")]},
              {"eval_time": "60m", "alertname": "OmoEdgeAgentDown", "exp_alerts": []}]
    result = promtool_test_rules(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_a_register_that_is_on_with_its_agent_down_is_agent_down_not_silent(tmp_path: Path) -> None:
    series = [{"series": lane_series("lane-01"), "values": "1x10 0x50"}]
    checks = [{"eval_time": "60m", "alertname": "OmoEdgeLaneNotReporting", "exp_alerts": []},
              {"eval_time": "60m", "alertname": "OmoEdgeAgentDown", "exp_alerts": [
                  expected_alert(next(r for r in RULES if r["alert"] == "OmoEdgeAgentDown"), {})]}]
    result = promtool_test_rules(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_a_lane_that_reports_again_clears_and_one_silent_for_over_7_days_is_forgotten(tmp_path: Path) -> None:
    """Evaluated every 4 minutes, the slowest that still carries the last report forward (the 5-minute lookback)."""
    rule = next(rule for rule in RULES if rule["alert"] == "OmoEdgeLaneNotReporting")
    back = [{"series": lane_series("lane-01"), "values": "1x10 _x10 1x20"}]     # silent from 44 to 80 minutes
    back_checks = [{"eval_time": "72m", "alertname": "OmoEdgeLaneNotReporting",
                    "exp_alerts": [not_reporting(rule, "lane-01")]},
                   {"eval_time": "100m", "alertname": "OmoEdgeLaneNotReporting", "exp_alerts": []}]
    gone = [{"series": lane_series("lane-01"), "values": f"1x10 _x{7 * 360 + 30}"}]
    gone_checks = [{"eval_time": "6d", "alertname": "OmoEdgeLaneNotReporting",
                    "exp_alerts": [not_reporting(rule, "lane-01")]},
                   {"eval_time": "7d1h", "alertname": "OmoEdgeLaneNotReporting", "exp_alerts": []}]
    result = promtool_test_rules(tmp_path, [
        {"interval": "4m", "input_series": back, "alert_rule_test": back_checks},
        {"interval": "4m", "input_series": gone, "alert_rule_test": gone_checks}], evaluation_interval="4m")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_names_the_store_and_the_lane_never_the_scrape_address() -> None:
    for rule in RULES:
        summary = rule["annotations"]["summary"]
        assert "{{ $labels.store }}" in summary and "{{ $labels.lane }}" in summary, rule["alert"]
        assert "instance" not in json.dumps(rule["annotations"]), rule["alert"]


def test_the_textfile_example_writes_what_the_lane_serves(lane_scrape: Scrape) -> None:
    families = {line.split()[2] for line in lane_scrape.text.splitlines() if line.startswith("# TYPE")}
    written = {line.split()[2] for line in lane_scrape.textfile.splitlines() if line.startswith("# TYPE")}
    assert written == families and len(families) > 40


@needs_promtool
def test_what_the_lane_exports_passes_promtool_check_metrics(lane_scrape: Scrape) -> None:
    result = promtool("check", "metrics", stdin=lane_scrape.textfile)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs_promtool
def test_the_prometheus_agent_example_is_a_valid_config() -> None:
    result = promtool("check", "config", str(DOCS / "prometheus-agent.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((DOCS / "prometheus-agent.yml").read_text())
    assert config["scrape_configs"][0]["job_name"] == "omo-edge" and 'job="omo-edge"' in RULES[0]["expr"]
    assert set(config["global"]["external_labels"]) == {"store", "lane"}, "what the dashboard and alerts read"


@needs_promtool
def test_the_textfile_routes_scrape_config_and_agent_down_rule_in_monitoring_md_are_valid(tmp_path: Path) -> None:
    text = (DOCS / "monitoring.md").read_text()
    scrape = re.search(r"```yaml\n(scrape_configs:.*?)```", text, re.S)
    rule = re.search(r"alert on\s+`(up\{job=\"node\"\}[^`]+)`", text)
    assert scrape and rule, "the textfile route's scrape config and rule in docs/monitoring.md"
    (tmp_path / "node.yml").write_text(scrape.group(1))
    targets = yaml.safe_load(scrape.group(1))["scrape_configs"][0]["static_configs"][0]
    assert set(targets["labels"]) == {"store", "lane"}
    (tmp_path / "rule.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "textfile", "rules": [{"alert": "OmoEdgeAgentDown", "expr": rule.group(1)}]}]}))
    for check in (("config", "node.yml"), ("rules", "rule.yml")):
        result = promtool("check", check[0], str(tmp_path / check[1]))
        assert result.returncode == 0, result.stdout + result.stderr


def test_monitoring_md_explains_every_metric_the_lane_exports(lane_scrape: Scrape) -> None:
    text = (DOCS / "monitoring.md").read_text()
    families = {line.split()[2] for line in lane_scrape.text.splitlines() if line.startswith("# TYPE")}
    undocumented = sorted(name for name in families if f"`{name}`" not in text
                          and not name.startswith("omo_edge_device_"))
    assert not undocumented, undocumented
    assert "`omo_edge_device_<counter>_total`" in text     # one per driver counter, named from docs/drivers.md
