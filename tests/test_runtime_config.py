"""Operators steer a running app through api_configurations: edits apply, bad edits never do."""

import json
import logging

import pytest
from sqlalchemy import text

from tests.waiting import eventually

FAST = {"config_refresh_seconds": 0.2}


@pytest.fixture
def fast_client(make_app, rows):
    """A running app that re-reads the table every 0.2 s."""
    rows.put("runtime", FAST)
    return make_app().test_client()


def batch(client, count):
    symbols = ["AAPL", "MSFT", "SPY", "QQQ", "IWM"][:count]
    return client.post("/api/v1/stocks/quotes/batch", json={"symbols": symbols})


def batch_refused(client, count):
    response = batch(client, count)
    return response if response.status_code == 400 else None


def ready(client):
    return client.get("/api/v1/health/ready").get_json()["data"]


def test_a_committed_sql_edit_reaches_a_running_app(fast_client, rows):
    assert batch(fast_client, 3).status_code == 200
    rows.sql(
        "INSERT INTO api_configurations (name, config) VALUES ('limits', :config)",
        config=json.dumps({"max_batch_symbols": 2}),
    )
    # A couple of 0.2 s refreshes suffice; the bound only keeps a broken refresher from hanging the suite.
    response = eventually(lambda: batch_refused(fast_client, 3))
    assert response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    assert response.get_json()["error"]["details"] == {"max_symbols": 2, "received": 3}
    assert batch(fast_client, 2).status_code == 200
    assert ready(fast_client)["configuration"]["applied_rows"].keys() == {"runtime", "limits"}


def test_a_bad_edit_is_never_applied_and_readiness_names_it(fast_client, rows, caplog):
    rows.put("limits", {"max_batch_symbols": 2})
    eventually(lambda: batch_refused(fast_client, 3))
    caplog.set_level(logging.ERROR, logger="opitios.runtime.refresh")
    rows.put("limits", {"max_batch_symbols": "lots"})
    rejected = eventually(lambda: ready(fast_client)["configuration"]["rejected"])
    assert rejected[0]["name"] == "limits"
    assert rejected[0]["errors"] == {"max_batch_symbols": ["Not a valid integer."]}
    assert len(rejected[0]["version"]) == 12
    # The last good value (2) stays in force.
    assert batch(fast_client, 3).status_code == 400
    assert batch(fast_client, 2).status_code == 200
    logged = [r.getMessage() for r in caplog.records if "rejected api_configurations row" in r.getMessage()]
    assert len(logged) == 1  # once per bad version, not on every refresh
    assert "'limits'" in logged[0] and "max_batch_symbols" in logged[0] and rejected[0]["version"] in logged[0]


def test_fixing_a_bad_row_applies_it_and_clears_the_rejection(fast_client, rows):
    rows.put("limits", {"max_batch_symbols": 0})
    eventually(lambda: ready(fast_client)["configuration"]["rejected"])
    assert batch(fast_client, 3).status_code == 200  # never applied: the default (20) stays
    rows.put("limits", {"max_batch_symbols": 1})
    eventually(lambda: not ready(fast_client)["configuration"]["rejected"])
    assert batch(fast_client, 2).status_code == 400


def test_a_refused_row_restored_to_its_last_good_content_leaves_the_refused_list(fast_client, rows, runner):
    rows.put("limits", {"max_batch_symbols": 2})
    eventually(lambda: batch_refused(fast_client, 3), timeout=3)
    rows.put("limits", {"max_batch_symbols": "lots"})
    eventually(lambda: ready(fast_client)["configuration"]["rejected"], timeout=3)
    rows.put("limits", {"max_batch_symbols": 2})  # exactly the content already in force
    eventually(lambda: not ready(fast_client)["configuration"]["rejected"], timeout=3)
    assert runner.invoke(args=["config", "validate"]).exit_code == 0  # the CLI and readiness agree
    assert batch(fast_client, 3).status_code == 400 and batch(fast_client, 2).status_code == 200


@pytest.mark.parametrize("config", [{"max_batch_symbols": 2, "typo": 1}, ["not", "an", "object"]])
def test_unknown_keys_and_non_objects_are_refused(fast_client, rows, config):
    rows.put("limits", config)
    rejected = eventually(lambda: ready(fast_client)["configuration"]["rejected"])
    assert rejected[0]["name"] == "limits"
    assert batch(fast_client, 3).status_code == 200


def test_an_unknown_section_is_refused_by_name(fast_client, rows):
    rows.put("limitz", {"max_batch_symbols": 2})
    rejected = eventually(lambda: ready(fast_client)["configuration"]["rejected"])
    assert rejected[0]["name"] == "limitz" and "name" in rejected[0]["errors"]


def test_a_deactivated_row_gives_back_the_defaults(fast_client, rows):
    rows.put("limits", {"max_batch_symbols": 2})
    eventually(lambda: batch_refused(fast_client, 3))
    rows.put("limits", {"max_batch_symbols": 2}, active=False)
    eventually(lambda: batch(fast_client, 3).status_code == 200)


def test_readiness_shows_the_configuration_in_force(fast_client):
    data = ready(fast_client)
    assert data["status"] == "ready"
    assert data["checks"] == {"upstream_credentials": "ok", "database": "ok"}
    configuration = data["configuration"]
    assert len(configuration["version"]) == 12 and configuration["refresh_seconds"] == 0.2
    assert configuration["rejected"] == []
    assert set(data["error_log"]) == {"written", "dropped", "queued"}


def test_the_runtime_provider_switches_every_worker(fast_client, rows, static_provider_installed):
    assert fast_client.get("/api/v1/health").get_json()["data"]["provider"] == "alpaca"
    rows.put("upstream", {"provider": "static"})
    eventually(lambda: fast_client.get("/api/v1/health").get_json()["data"]["provider"] == "static")
    assert fast_client.get("/api/v1/stocks/STAT/quote").get_json()["metadata"]["provider"] == "static"
    rows.put("upstream", {"provider": "nope"})
    rejected = eventually(lambda: ready(fast_client)["configuration"]["rejected"])
    assert "provider" in rejected[0]["errors"]
    assert fast_client.get("/api/v1/health").get_json()["data"]["provider"] == "static"


# -- the CLI ------------------------------------------------------------------------------------------


def test_config_set_validates_before_writing(rows, engine, runner):
    result = runner.invoke(args=["config", "set", "limits", "max_batch_symbols=7", "stale_if_error_seconds=60"])
    assert result.exit_code == 0, result.output
    refused = runner.invoke(args=["config", "set", "limits", "max_batch_symbols=lots"])
    assert refused.exit_code != 0 and "not written" in refused.output and "max_batch_symbols" in refused.output
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT config FROM api_configurations WHERE name = 'limits'")).scalar_one()
    assert json.loads(stored) == {"max_batch_symbols": 7, "stale_if_error_seconds": 60}
    shown = json.loads(runner.invoke(args=["config", "show"]).output)
    assert shown["in_force"]["limits"] == {"max_batch_symbols": 7, "stale_if_error_seconds": 60}
    assert shown["in_force"]["cache_ttl"]["stock_quote_open"] == 5
    assert shown["refused"] == {}


def test_config_validate_names_the_bad_rows(rows, runner):
    rows.put("access", {"public_market_data": True})
    assert runner.invoke(args=["config", "validate"]).exit_code == 0
    rows.put("runtime", {"config_refresh_seconds": -1})
    result = runner.invoke(args=["config", "validate"])
    assert result.exit_code == 1
    assert "ok       access" in result.output and "refused  runtime" in result.output
    assert "refused" in json.loads(runner.invoke(args=["config", "show"]).output)
