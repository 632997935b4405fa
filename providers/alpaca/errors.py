"""Turns what alpaca-py and requests raise into the provider errors of ``providers.base``."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from alpaca.common.exceptions import APIError

from providers.base import (
    ProviderError,
    UpstreamAuthenticationFailed,
    UpstreamInvalidResponse,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamServiceError,
    UpstreamTimeout,
)


def upstream_message(error: APIError) -> str | None:
    """Alpaca's own ``message`` from an error body, if the body has one."""
    try:
        body = json.loads(str(error))
    except ValueError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def _retry_after(response: requests.Response | None) -> int | None:
    """Seconds until the upstream's rate window resets, from its own headers."""
    if response is None:
        return None
    headers = response.headers
    for name in ("Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name)
        if value is None or not value.strip().isdigit():
            continue
        seconds = int(value)
        if name == "X-RateLimit-Reset":  # a Unix time, not a delay
            seconds = math.ceil(seconds - time.time())
        return max(seconds, 1)
    return None


def from_api_error(error: APIError, what: str) -> ProviderError:
    status = error.status_code
    said = upstream_message(error)
    details = {"upstream_status": status}
    if said:
        details["upstream_message"] = said
    if status in (401, 403):
        return UpstreamAuthenticationFailed(
            f"The upstream refused our credentials for {what}", details=details
        )
    if status == 429:
        return UpstreamRateLimited(
            f"The upstream's request budget is spent ({what})",
            retry_after=_retry_after(error.response),
            details=details,
        )
    if status == 504:
        return UpstreamTimeout(f"The upstream timed out answering {what}", details=details)
    if status in (400, 422):
        return UpstreamRejectedRequest(
            f"The upstream rejected the request for {what}: {said or 'no reason given'}",
            details=details,
        )
    return UpstreamServiceError(
        f"The upstream failed answering {what} (HTTP {status})", details=details
    )


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Run one upstream call, turning every failure into a ``ProviderError`` that says ``what`` failed."""
    try:
        yield
    except ProviderError:
        raise
    except APIError as error:
        raise from_api_error(error, what) from None
    except requests.Timeout:
        raise UpstreamTimeout(f"The upstream did not answer {what} in time") from None
    except requests.JSONDecodeError:
        raise UpstreamInvalidResponse(f"The upstream sent a body that is not JSON for {what}") from None
    except requests.RequestException:
        raise UpstreamServiceError(f"The upstream could not be reached for {what}") from None
    except ValueError:
        # alpaca-py raises a bare ValueError when a market-data body has none of its known keys.
        raise UpstreamInvalidResponse(f"The upstream sent an unexpected body for {what}") from None
