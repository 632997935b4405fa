"""The success and error envelopes (CONTRACT §2) and the market-data headers (§3)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import Response, current_app, request

from opitios.request_id import current_request_id


# What every data answer names as its source and provider when OPITIOS_DEMO says the upstream is the
# offline sandbox: the service is told so by its configuration (it never imports the sandbox), and no
# demo answer may carry a real-time label, whatever its data class.
DEMO_DATA_SOURCE = "sandbox_synthetic"
DEMO_PROVIDER = "sandbox"


@dataclass
class Result:
    """What a service hands a route: the data and where it came from."""

    data: dict[str, Any]
    data_source: str
    provider: str
    feed: str | None
    data_timestamp: str | None  # the upstream's own timestamp string of the datum
    market_status: str
    cache: str = "miss"
    max_age: int = 0  # seconds an intermediary may keep the answer
    source: str = "rest"  # how the upstream's data reached us: a REST call, the stream, or both ("mixed")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def freshness_seconds(data_timestamp: str | None, now: datetime) -> float | None:
    """Now minus the upstream's timestamp, in seconds; ``None`` when there is no timestamp."""
    if data_timestamp is None:
        return None
    try:
        moment = datetime.fromisoformat(data_timestamp)
    except ValueError:
        return None
    return round((now - moment).total_seconds(), 3)


def _dumps(value: Any) -> str:
    return current_app.json.dumps(value)


def _json(body: dict, status: int, headers: dict[str, str]) -> Response:
    return current_app.response_class(_dumps(body), status=status, headers=headers, mimetype="application/json")


def _provenance(result) -> tuple[str, str]:
    """The answer's data_source and provider: the service's, or the demo's labels under OPITIOS_DEMO."""
    if current_app.config["OPITIOS_DEMO"]:
        return DEMO_DATA_SOURCE, DEMO_PROVIDER
    return result.data_source, result.provider


def success_response(result: Result) -> Response:
    now = utc_now()
    freshness = freshness_seconds(result.data_timestamp, now)
    data_source, provider = _provenance(result)
    metadata = {
        "request_id": current_request_id(),
        "timestamp": iso_millis(now),
        "data_source": data_source,
        "provider": provider,
        "feed": result.feed,
        "data_timestamp": result.data_timestamp,
        "data_freshness_seconds": freshness,
        "market_status": result.market_status,
        "cache": result.cache,
        "source": result.source,
    }
    data = _dumps(result.data)
    # A strong validator of the data alone: metadata changes on every request, the data does not.
    etag = '"' + hashlib.blake2b(data.encode(), digest_size=16).hexdigest() + '"'
    headers = {
        "X-Cache-Status": result.cache.upper(),
        "X-Data-Source": data_source,
        "Cache-Control": f"max-age={result.max_age}",
        "ETag": etag,
    }
    if freshness is not None:
        headers["X-Data-Freshness"] = str(freshness)
    if request.if_none_match.contains(etag.strip('"')):
        return current_app.response_class(status=304, headers=headers)
    body = '{"data":' + data + ',"metadata":' + _dumps(metadata) + "}"
    return current_app.response_class(body, status=200, headers=headers, mimetype="application/json")


def trading_response(result) -> Response:
    """A broker answer: the success envelope, never to be stored by anyone (``no-store``)."""
    now = utc_now()
    data_source, provider = _provenance(result)
    metadata = {
        "request_id": current_request_id(),
        "timestamp": iso_millis(now),
        "data_source": data_source,
        "provider": provider,
        "data_timestamp": result.data_timestamp,
        "data_freshness_seconds": freshness_seconds(result.data_timestamp, now),
        "market_status": result.market_status,
        "cache": "none",
    }
    if result.replayed is not None:
        metadata["idempotent_replay"] = result.replayed
    headers = {"Cache-Control": "no-store", "X-Data-Source": data_source}
    return _json({"data": result.data, "metadata": metadata}, 200, headers)


def plain_response(data: dict[str, Any], status: int = 200) -> Response:
    """An operations answer (health): the success envelope without market-data provenance."""
    metadata = {"request_id": current_request_id(), "timestamp": iso_millis(utc_now())}
    return _json({"data": data, "metadata": metadata}, status, {"Cache-Control": "no-store"})


def error_response(
    *,
    status: int,
    code: str,
    type_: str,
    message: str,
    details: dict,
    suggested_action: str,
    headers: dict[str, str],
) -> Response:
    body = error_body(
        code=code,
        type_=type_,
        message=message,
        details=details,
        suggested_action=suggested_action,
        request_id=current_request_id(),
        endpoint=request.path,
    )
    return _json(body, status, {**headers, "X-Error-Code": code, "Cache-Control": "no-store"})


def error_body(
    *,
    code: str,
    type_: str,
    message: str,
    details: dict,
    suggested_action: str,
    request_id: str,
    endpoint: str | None,
) -> dict[str, Any]:
    """The error envelope itself; needs no request, so the server's own refusals use it too."""
    return {
        "error": {"code": code, "type": type_, "message": message, "details": details},
        "metadata": {
            "request_id": request_id,
            "timestamp": iso_millis(utc_now()),
            "endpoint": endpoint,
            "suggested_action": suggested_action,
        },
    }
