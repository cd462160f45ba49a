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

DOCS = Path(__file__).resolve().parents[1] / "docs"
DASHBOARD: dict[str, Any] = json.loads((DOCS / "grafana-dashboard.json").read_text())
ALERTS: dict[str, Any] = yaml.safe_load((DOCS / "alerts.yml").read_text())
RULES: list[dict[str, Any]] = [rule for group in ALERTS["groups"] for rule in group["rules"]]
METRIC = re.compile(r"\bomo_edge_[a-z0-9_]+")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is missing (apt-get install prometheus)")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$instance": ".*"}


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
    assert all('instance=~"$instance"' in t["expr"] for p in panels for t in p["targets"])
    assert len({p["id"] for p in DASHBOARD["panels"]}) == len(DASHBOARD["panels"])


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


LANE = 'instance="lane-a", job="omo-edge"'
MB = 1024 * 1024
# alert -> (input series, when to evaluate, the labels the alert carries besides severity)
FIRING: dict[str, tuple[list[tuple[str, str]], str, dict[str, str]]] = {
    "OmoEdgeAgentDown": ([(f"up{{{LANE}}}", "0x10")], "5m", {}),
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


def expected_alert(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The alert as Prometheus should raise it: the series' labels, the rule's, and its annotations filled in."""
    all_labels = {"instance": "lane-a", "job": "omo-edge", **labels, **rule["labels"]}
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
    unit = tmp_path / "alerts-test.yml"
    unit.write_text(yaml.safe_dump({"rule_files": [str(DOCS / "alerts.yml")], "evaluation_interval": "1m",
                                    "tests": tests}))
    result = promtool("test", "rules", str(unit))
    assert result.returncode == 0, result.stdout + result.stderr


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


def test_monitoring_md_explains_every_metric_the_lane_exports(lane_scrape: Scrape) -> None:
    text = (DOCS / "monitoring.md").read_text()
    families = {line.split()[2] for line in lane_scrape.text.splitlines() if line.startswith("# TYPE")}
    undocumented = sorted(name for name in families if f"`{name}`" not in text
                          and not name.startswith("omo_edge_device_"))
    assert not undocumented, undocumented
    assert "`omo_edge_device_<counter>_total`" in text     # one per driver counter, named from docs/drivers.md
