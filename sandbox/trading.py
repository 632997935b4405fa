"""Trading API bodies: the market clock and a paper account (money as strings, like Alpaca)."""
from datetime import timedelta

from .times import is_weekday, next_open_after, ny_date, rfc3339_ny, session_close, session_open


def clock(args, ctx) -> dict:
    """``market`` "auto" follows New York regular hours on weekdays; "open"/"closed" force the flag
    while keeping next_open/next_close plausible (a forced open closes at 16:00 today, or in an hour)."""
    now, today = ctx.now, ny_date(ctx.now)
    in_session = is_weekday(today) and session_open(today) <= now < session_close(today)
    is_open = in_session if ctx.market == "auto" else ctx.market == "open"
    if is_open:
        next_close = session_close(today) if now < session_close(today) else now + timedelta(hours=1)
        next_open = next_open_after(next_close)
    else:
        next_open = next_open_after(now)
        next_close = session_close(ny_date(next_open))
    return {"timestamp": rfc3339_ny(now), "is_open": is_open,
            "next_open": rfc3339_ny(next_open), "next_close": rfc3339_ny(next_close)}


def account(args, ctx) -> dict:
    """A flat $100k paper account with 2x margin and options level 3."""
    previous = ny_date(ctx.now) - timedelta(days=1)
    while not is_weekday(previous):
        previous -= timedelta(days=1)
    return {
        "id": "9b7f3c1e-5a2d-4f6b-8c0e-1d2a3b4c5d6e",
        "admin_configurations": {},
        "user_configurations": None,
        "account_number": "PA3SANDBOX01",
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "options_approved_level": 3,
        "options_trading_level": 3,
        "currency": "USD",
        "buying_power": "200000",
        "regt_buying_power": "200000",
        "effective_buying_power": "200000",
        "non_marginable_buying_power": "100000",
        "options_buying_power": "100000",
        "bod_dtbp": "0",
        "cash": "100000",
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": "100000",
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2024-01-02T15:04:05.123456Z",
        "trade_suspended_by_user": False,
        "multiplier": "2",
        "shorting_enabled": True,
        "equity": "100000",
        "last_equity": "100000",
        "long_market_value": "0",
        "short_market_value": "0",
        "position_market_value": "0",
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "100000",
        "balance_asof": previous.isoformat(),
        "crypto_tier": 1,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }
