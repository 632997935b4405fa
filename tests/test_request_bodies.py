"""Request bodies are bounded alike, Content-Length or chunked, before anything else reads them."""

import io
import logging

import pytest

from opitios.app import MAX_BODY_BYTES

QUOTE = "/api/v1/stocks/quote"
BATCH = "/api/v1/stocks/quotes/batch"


def padded(body: str, size: int) -> bytes:
    """``body`` with trailing whitespace up to ``size`` bytes: still valid JSON, only larger."""
    return body.encode().ljust(size)


def post_chunked(client, path: str, body: bytes, **kwargs):
    """A body without Content-Length, as a server that de-chunks it (gunicorn) hands it to the app."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked", **kwargs.pop("headers", {})},
        environ_overrides={"wsgi.input_terminated": True},
        **kwargs,
    )


@pytest.mark.parametrize("size", [70 * 1024, 2 * 1024 * 1024])
def test_a_chunked_body_over_the_limit_is_413(client, size):
    response = post_chunked(client, QUOTE, padded('{"symbol": "AAPL"}', size))
    assert response.status_code == 413
    assert response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    assert response.get_json()["error"]["code"] == "REQUEST_SIZE_EXCEEDED"


def test_a_chunked_body_of_exactly_the_limit_is_served(client):
    response = post_chunked(client, QUOTE, padded('{"symbol": "AAPL"}', MAX_BODY_BYTES))
    assert response.status_code == 200 and response.get_json()["data"]["symbol"] == "AAPL"
    one_more = post_chunked(client, QUOTE, padded('{"symbol": "AAPL"}', MAX_BODY_BYTES + 1))
    assert one_more.status_code == 413


def test_a_chunked_batch_within_the_limit_is_served_and_counted_per_symbol(client):
    response = post_chunked(client, BATCH, padded('{"symbols": ["AAPL", "MSFT"]}', 4096))
    assert response.status_code == 200 and response.get_json()["data"]["summary"]["successful"] == 2
    assert int(response.headers["X-RateLimit-Limit"]) - int(response.headers["X-RateLimit-Remaining"]) == 2


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_batch_is_refused_before_the_rate_limiter_runs(client, caplog, chunked):
    body = padded('{"symbols": ["AAPL"]}', 70 * 1024)
    with caplog.at_level(logging.INFO):
        response = post_chunked(client, BATCH, body) if chunked else client.post(BATCH, data=body, content_type="application/json")
    assert response.status_code == 413 and response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
    assert "X-RateLimit-Remaining" not in response.headers  # the limiter never saw it
    assert not [record for record in caplog.records if record.exc_info]


def test_an_oversized_body_is_413_before_the_api_key_is_checked(client):
    body = padded('{"symbol": "AAPL"}', 70 * 1024)
    response = client.post(QUOTE, data=body, content_type="application/json", headers={"X-API-Key": "opk_not_a_key"})
    assert response.status_code == 413 and response.headers["X-Error-Code"] == "REQUEST_SIZE_EXCEEDED"
