"""The operator assets in deploy/: the Grafana dashboard and the Prometheus alert rules.

Their structure is checked on the files alone. Every metric they name must be
one that GET /metrics of an app wired to the sandbox exports, with the labels
the expressions use; the helpers that decide this are checked to fail on a
wrong name, so a typo in a dashboard or a rule cannot pass unnoticed.
"""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "opitios-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "opitios-alerts.yml"

METRIC = re.compile(r"(?<![A-Za-z0-9_:])opitios_[A-Za-z0-9_:]*")
SELECTOR = re.compile(r"(?<![A-Za-z0-9_:])(opitios_[A-Za-z0-9_:]*)\s*\{([^}]*)\}")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
DURATION = re.compile(r"^\d+[smhdw]$")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SAMPLE_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created", "_info")
# Labels Prometheus adds at scrape time, so /metrics cannot show them.
TARGET_LABELS = {"job", "instance"}
# Labels that would grow without bound: never on a metric, never in an expression.
UNBOUNDED_LABELS = {
    "symbol", "symbols", "option_symbol", "underlying", "underlying_symbol", "key", "api_key", "key_prefix",
    "prefix", "client", "request_id", "client_order_id", "order_id", "order_ref", "ip", "remote_addr",
}
WRONG_NAME = "opitios_no_such_metric_total"


# --- reading the assets --------------------------------------------------------------------------


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def load_rules() -> dict:
    return yaml.safe_load(RULES.read_text())


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside (collapsed) rows included."""
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries(dashboard: dict) -> list[str]:
    """The PromQL of every panel target."""
    return [target["expr"] for panel in dashboard_panels(dashboard) for target in panel.get("targets", [])]


def variable_queries(dashboard: dict) -> list[str]:
    """The queries of the query variables (label_values(...): not PromQL, but they name metrics)."""
    queries = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def rules(document: dict) -> list[dict]:
    return [rule for group in document["groups"] for rule in group["rules"]]


def all_expressions() -> list[str]:
    dashboard = load_dashboard()
    return dashboard_queries(dashboard) + variable_queries(dashboard) + [rule["expr"] for rule in rules(load_rules())]


def referenced_metrics(expressions) -> set[str]:
    return {name for expression in expressions for name in METRIC.findall(expression)}


def selector_labels(expression: str) -> dict[str, set[str]]:
    """Metric name -> label names its selectors match on, in one expression."""
    found: dict[str, set[str]] = {}
    for name, body in SELECTOR.findall(expression):
        found.setdefault(name, set()).update(MATCHER.findall(QUOTED.sub('""', body)))
    return found


def grouping_labels(expression: str) -> set[str]:
    """Label names in by (...), without (...), on (...) and ignoring (...) clauses."""
    return {label.strip() for group in GROUPING.findall(expression) for label in group.split(",") if label.strip()}


# --- reading GET /metrics ------------------------------------------------------------------------


class Exposition:
    """The Prometheus text exposition: each family's type and the label names its samples carry."""

    def __init__(self, text: str):
        self.types: dict[str, str] = {}
        self.samples: dict[str, set[str]] = {}
        self.label_values: set[str] = set()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line and not line.startswith("#"):
                name, _, rest = line.partition("{")
                name = name.split()[0]
                labels = rest.rpartition("}")[0] if rest else ""
                pairs = re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', labels)
                self.samples.setdefault(name, set()).update(label for label, _ in pairs)
                self.label_values.update(value for _, value in pairs)

    def family(self, name: str) -> str:
        """The family a series name belongs to: histogram suffixes go when the base is a histogram."""
        for suffix in HISTOGRAM_SUFFIXES:
            base = name.removesuffix(suffix)
            if base != name and self.types.get(base) == "histogram":
                return base
        return name

    def exported(self) -> set[str]:
        """The names a PromQL expression may use: families (a counter's with _total) and sample names."""
        names = set(self.samples)
        for family, kind in self.types.items():
            if kind == "counter" and not family.endswith("_total"):
                names.add(family + "_total")  # OpenMetrics style: TYPE x counter, samples x_total
            elif kind != "counter" or family.endswith("_total"):
                names.add(family)
        return names

    def labels(self, family: str) -> set[str]:
        """Label names on the family's samples (empty when it has none yet)."""
        labels = set()
        for sample, names in self.samples.items():
            if sample == family or any(sample == family + suffix for suffix in SAMPLE_SUFFIXES):
                labels |= names
        return labels


def missing_metrics(names, exposition: Exposition) -> list[str]:
    exported = exposition.exported()
    return sorted(name for name in names if exposition.family(name) not in exported)


def label_problems(expressions, exposition: Exposition) -> list[str]:
    """Labels an expression uses that the metric's samples do not carry (metrics with samples only)."""
    problems = []
    for expression in expressions:
        families = {exposition.family(name) for name in METRIC.findall(expression)}
        carried = {family: exposition.labels(family) for family in families}
        for name, used in selector_labels(expression).items():
            have = carried[exposition.family(name)]
            if have:
                problems += [f"{name}: no label {label!r} (has {sorted(have)})" for label in used - TARGET_LABELS - have]
        grouped = grouping_labels(expression) - TARGET_LABELS
        known = set().union(*carried.values()) if carried else set()
        if known:
            problems += [f"{' '.join(sorted(families))}: no label {label!r} to group by" for label in grouped - known]
    return problems


# --- the helpers fail when they should ----------------------------------------------------------

SAMPLE_EXPOSITION = """\
# HELP opitios_http_request_duration_seconds Flask HTTP request duration in seconds
# TYPE opitios_http_request_duration_seconds histogram
opitios_http_request_duration_seconds_bucket{le="0.005",method="GET",url_rule="/api/v1/health",status="200"} 1.0
opitios_http_request_duration_seconds_bucket{le="+Inf",method="GET",url_rule="/api/v1/health",status="200"} 1.0
opitios_http_request_duration_seconds_count{method="GET",url_rule="/api/v1/health",status="200"} 1.0
opitios_http_request_duration_seconds_sum{method="GET",url_rule="/api/v1/health",status="200"} 0.001
# HELP opitios_auth_failures_total Requests refused for their API key, by code
# TYPE opitios_auth_failures_total counter
# HELP opitios_config_reloads_total Runtime configuration changes applied
# TYPE opitios_config_reloads_total counter
opitios_config_reloads_total 1.0
# HELP opitios_config_reloads_created Runtime configuration changes applied
# TYPE opitios_config_reloads_created gauge
opitios_config_reloads_created 1.7e+09
# HELP opitios_circuit_state Upstream circuit: 0 closed, 1 half-open, 2 open
# TYPE opitios_circuit_state gauge
opitios_circuit_state 0.0
"""


def test_the_exposition_helpers_report_names_that_are_not_exported():
    exposition = Exposition(SAMPLE_EXPOSITION)
    good = {
        "opitios_http_request_duration_seconds_bucket", "opitios_http_request_duration_seconds_count",
        "opitios_auth_failures_total", "opitios_config_reloads_total", "opitios_circuit_state",
    }
    assert missing_metrics(good, exposition) == []
    wrong = {
        WRONG_NAME,
        "opitios_auth_failures",  # a counter without _total is no series Prometheus stores
        "opitios_circuit_state_bucket",  # a gauge has no buckets
        "opitios_http_request_duration_seconds_total",
    }
    assert missing_metrics(good | wrong, exposition) == sorted(wrong)
    assert exposition.family("opitios_http_request_duration_seconds_bucket") == "opitios_http_request_duration_seconds"
    assert exposition.family("opitios_circuit_state_count") == "opitios_circuit_state_count"


def test_openmetrics_style_counters_are_understood():
    exposition = Exposition("# TYPE opitios_config_reloads counter\nopitios_config_reloads_total 1.0\n")
    assert missing_metrics({"opitios_config_reloads_total"}, exposition) == []
    assert missing_metrics({"opitios_config_reloads"}, exposition) == ["opitios_config_reloads"]


def test_the_label_check_reports_labels_a_metric_does_not_carry():
    exposition = Exposition(SAMPLE_EXPOSITION)
    good = 'histogram_quantile(0.95, sum by (le, url_rule) (rate(opitios_http_request_duration_seconds_bucket{job="x", url_rule=~"/api/.+"}[5m])))'
    assert label_problems([good], exposition) == []
    by_path = good.replace("url_rule", "path")
    assert len(label_problems([by_path], exposition)) == 2
    # A family without samples yet cannot be judged, so it is not reported.
    assert label_problems(['sum by (code) (rate(opitios_auth_failures_total{code="X"}[5m]))'], exposition) == []


# --- the dashboard -------------------------------------------------------------------------------


def test_the_dashboard_is_a_templated_prometheus_dashboard():
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard_panels(dashboard)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        targets = panel.get("targets")
        assert targets, f"panel {panel['title']!r} has no targets"
        assert len({target["refId"] for target in targets}) == len(targets), panel["title"]
        for target in targets:
            assert target["expr"].strip(), f"panel {panel['title']!r} has an empty expr"
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], panel["title"]


def test_the_dashboard_has_the_operators_panels():
    dashboard = load_dashboard()
    queries = dashboard_queries(dashboard)
    named = referenced_metrics(queries)
    for metric in [
        "opitios_http_request_duration_seconds_count", "opitios_http_request_duration_seconds_bucket",
        "opitios_http_request_total", "opitios_cache_requests_total", "opitios_upstream_requests_total",
        "opitios_upstream_budget_remaining", "opitios_circuit_state", "opitios_config_reloads_total",
        "opitios_config_rejected_edits_total", "opitios_error_log_rows_total", "opitios_rate_limit_rejections_total",
        "opitios_auth_failures_total", "opitios_cache_degraded",
    ]:
        assert metric in named, f"no panel shows {metric}"
    compact = [re.sub(r"\s+", "", query) for query in queries]
    for quantile in ("0.50", "0.95", "0.99"):
        assert any(q.startswith(f"histogram_quantile({quantile},sumby(le,url_rule)(") for q in compact), quantile
    assert any('status=~"[45].."' in query and "by (status)" in query for query in queries)
    assert any("vector($budget)" in query for query in queries)


def test_expressions_use_no_unbounded_label():
    for expression in all_expressions():
        used = grouping_labels(expression).union(*selector_labels(expression).values())
        assert not used & UNBOUNDED_LABELS, expression


def test_expressions_are_balanced():
    for expression in all_expressions():
        text = QUOTED.sub('""', expression)
        for opening, closing in ("()", "{}", "[]"):
            depth = 0
            for char in text:
                depth += (char == opening) - (char == closing)
                assert depth >= 0, expression
            assert depth == 0, expression


# --- the alert rules -----------------------------------------------------------------------------

# alert -> (for, severity, a metric its expression must use, a comparison it must make)
EXPECTED_ALERTS = {
    "OpitiosHighErrorRatio": ("5m", "critical", "opitios_http_request_total", "> 0.05"),
    "OpitiosMarketDataLatencyUncachedSLO": ("10m", "critical", "opitios_http_request_duration_seconds_bucket", "> 0.5"),
    "OpitiosMarketDataLatencyCachedSLO": ("10m", "warning", "opitios_http_request_duration_seconds_bucket", "> 0.05"),
    "OpitiosUpstreamBudgetNearlySpent": ("2m", "warning", "opitios_upstream_budget_remaining", "< 19"),
    "OpitiosUpstreamErrors": ("5m", "warning", "opitios_upstream_requests_total", "> 0.1"),
    "OpitiosCircuitOpen": ("1m", "critical", "opitios_circuit_state", "== 2"),
    "OpitiosCacheDegraded": ("2m", "warning", "opitios_cache_degraded", "== 1"),
    "OpitiosLowCacheHitRatio": ("15m", "warning", "opitios_cache_requests_total", "< 0.8"),
}


def test_the_rules_file_has_groups_of_complete_rules():
    document = load_rules()
    assert document["groups"], "no groups"
    for group in document["groups"]:
        assert group["name"] and group["rules"], group
    names = []
    for rule in rules(document):
        assert set(rule) >= {"alert", "expr", "for", "labels", "annotations"}, rule
        names.append(rule["alert"])
        assert rule["expr"].strip(), rule["alert"]
        assert DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
    assert len(names) == len(set(names)), "alert names repeat"


def test_the_rules_are_the_agreed_alerts():
    found = {rule["alert"]: rule for rule in rules(load_rules())}
    assert set(found) == set(EXPECTED_ALERTS)
    for alert, (duration, severity, metric, comparison) in EXPECTED_ALERTS.items():
        rule = found[alert]
        assert rule["for"] == duration, alert
        assert rule["labels"]["severity"] == severity, alert
        assert metric in referenced_metrics([rule["expr"]]), alert
        assert comparison in " ".join(rule["expr"].split()), alert
    latency = " ".join(found["OpitiosMarketDataLatencyUncachedSLO"]["expr"].split())
    assert latency.startswith("histogram_quantile(0.95,")
    assert "share one" in found["OpitiosMarketDataLatencyCachedSLO"]["annotations"]["description"]
    ratio = found["OpitiosLowCacheHitRatio"]["expr"]
    assert 'result="hit"' in ratio and 'result=~"hit|miss|stale"' in ratio and "> 0" in ratio



def test_every_metric_the_assets_name_is_exported(make_app, api_key):
    client = make_app().test_client()
    first = client.get("/api/v1/stocks/AAPL/quote")
    second = client.get("/api/v1/stocks/AAPL/quote")
    assert (first.status_code, second.status_code) == (200, 200)
    assert client.get("/nope").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200, f"GET /metrics answered {response.status_code}"
    exposition = Exposition(response.get_data(as_text=True))

    expressions = all_expressions()
    names = referenced_metrics(expressions)
    assert missing_metrics(names, exposition) == []
    assert missing_metrics(names | {WRONG_NAME}, exposition) == [WRONG_NAME]
    assert label_problems(expressions, exposition) == []

    # The HTTP histogram has samples now, so its labels were checked above; and no label
    # carries a symbol, a key or a request id.
    assert exposition.labels("opitios_http_request_duration_seconds")
    assert not set().union(*exposition.samples.values()) & UNBOUNDED_LABELS
    for value in ("AAPL", api_key, first.headers["X-Request-ID"], second.headers["X-Request-ID"]):
        assert not any(value in label for label in exposition.label_values), value
