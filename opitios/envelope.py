"""The success and error envelopes (CONTRACT §2) and the market-data headers (§3).

A service's ``Result`` carries its data already as JSON (a cached answer's bytes and ETag were made
when it was stored): rendering adds only what changes per request, the metadata and the headers.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

from flask import Response, current_app, request

from opitios.api_errors import ApiError
from opitios.data_classes import DEMO_DATA_SOURCE, DEMO_PROVIDER
from opitios.json_bytes import to_json
from opitios.request_id import current_request_id
from opitios.services.results import Result


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_millis(moment: datetime) -> str:
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" written as "Z"


@functools.lru_cache(maxsize=4096)
def _moment(data_timestamp: str) -> datetime | None:
    """An upstream timestamp parsed, once: every answer of a cached entry carries the same one."""
    try:
        return datetime.fromisoformat(data_timestamp)
    except ValueError:
        return None


def freshness_seconds(data_timestamp: str | None, now: datetime) -> float | None:
    """Now minus the upstream's timestamp, in seconds; ``None`` when there is no timestamp."""
    moment = _moment(data_timestamp) if data_timestamp is not None else None
    if moment is None:
        return None
    return round((now - moment).total_seconds(), 3)


def _dumps(value: Any) -> str:
    return current_app.json.dumps(value)


def _json(body: dict, status: int, headers: dict[str, str]) -> Response:
    return current_app.response_class(_dumps(body), status=status, headers=headers, mimetype="application/json")


def _provenance(result: Result) -> tuple[str, str]:
    """The answer's data_source and provider: the service's, or the demo's labels under OPITIOS_DEMO.

    The service is told it runs the demo by its configuration only (it never imports the sandbox),
    and no demo answer may carry a real-time label, whatever its data class.
    """
    if current_app.config["OPITIOS_DEMO"]:
        return DEMO_DATA_SOURCE, DEMO_PROVIDER
    return result.data_source, result.provider


def success_response(result: Result) -> Response:
    """Market data (cached, with its ETag and cache headers) or a broker answer (never to be stored: ``no-store``)."""
    now = utc_now()
    freshness = freshness_seconds(result.data_timestamp, now)
    data_source, provider = _provenance(result)
    metadata: dict[str, Any] = {
        "request_id": current_request_id(),
        "timestamp": iso_millis(now),
        "data_source": data_source,
        "provider": provider,
    }
    if result.cached:
        metadata["feed"] = result.feed
    metadata["data_timestamp"] = result.data_timestamp
    metadata["data_freshness_seconds"] = freshness
    metadata["market_status"] = result.market_status
    metadata["cache"] = result.cache
    if not result.cached:
        if result.replayed is not None:
            metadata["idempotent_replay"] = result.replayed
        return _respond(result.body, metadata, {"Cache-Control": "no-store", "X-Data-Source": data_source})
    metadata["source"] = result.source
    headers = {
        "X-Cache-Status": result.cache.upper(),
        "X-Data-Source": data_source,
        "Cache-Control": f"max-age={result.max_age}",
        "ETag": result.etag,
    }
    if freshness is not None:
        headers["X-Data-Freshness"] = str(freshness)
    # The environ, not request.headers: most requests carry no If-None-Match, and asking the headers costs a search.
    if "HTTP_IF_NONE_MATCH" in request.environ and request.if_none_match.contains(result.etag.strip('"')):
        return current_app.response_class(status=304, headers=headers)
    return _respond(result.body, metadata, headers)


def _respond(body: bytes, metadata: dict[str, Any], headers: dict[str, str]) -> Response:
    """The success envelope around data that is JSON already: the data's bytes are never parsed or serialized again."""
    envelope = b'{"data":' + body + b',"metadata":' + to_json(metadata) + b"}"
    # Type and length first: Werkzeug looks for each among the headers before it sets it.
    headers = {"Content-Type": "application/json", "Content-Length": str(len(envelope)), **headers}
    return current_app.response_class(envelope, status=200, headers=headers)


def plain_response(data: dict[str, Any], status: int = 200) -> Response:
    """An operations answer (health): the success envelope without market-data provenance."""
    metadata = {"request_id": current_request_id(), "timestamp": iso_millis(utc_now())}
    return _json({"data": data, "metadata": metadata}, status, {"Cache-Control": "no-store"})


def error_response(error: ApiError, headers: dict[str, str]) -> Response:
    body = error_body(error, current_request_id(), request.path)
    return _json(body, error.status, {**headers, "X-Error-Code": error.code, "Cache-Control": "no-store"})


def error_body(error: ApiError, request_id: str, endpoint: str | None) -> dict[str, Any]:
    """The error envelope itself; needs no request, so the server's own refusals use it too."""
    return {
        "error": {"code": error.code, "type": error.type, "message": error.message, "details": error.details},
        "metadata": {
            "request_id": request_id,
            "timestamp": iso_millis(utc_now()),
            "endpoint": endpoint,
            "suggested_action": error.suggested_action,
        },
    }
