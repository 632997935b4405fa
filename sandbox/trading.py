"""Trading API bodies: the market clock and the paper account (money as strings, like Alpaca)."""
from datetime import timedelta

from . import money
from .handler import Call
from .state import Context
from .times import is_weekday, next_open_after, ny_date, rfc3339_ny, session_close, session_open


def market_open(ctx: Context) -> bool:
    """``market`` "auto" follows New York regular hours on weekdays; "open"/"closed" force the flag."""
    now, today = ctx.now, ny_date(ctx.now)
    in_session = is_weekday(today) and session_open(today) <= now < session_close(today)
    return in_session if ctx.market == "auto" else ctx.market == "open"


def clock(args, ctx) -> dict:
    """The market flag, with next_open/next_close kept plausible when it is forced (a forced open
    closes at 16:00 today, or in an hour)."""
    now, today = ctx.now, ny_date(ctx.now)
    is_open = market_open(ctx)
    if is_open:
        next_close = session_close(today) if now < session_close(today) else now + timedelta(hours=1)
        next_open = next_open_after(next_close)
    else:
        next_open = next_open_after(now)
        next_close = session_close(ny_date(next_open))
    return {"timestamp": rfc3339_ny(now), "is_open": is_open,
            "next_open": rfc3339_ny(next_open), "next_close": rfc3339_ny(next_close)}


def account(call: Call) -> dict:
    """The paper account with 2x margin and options level 3, its money figures taken from the book."""
    ctx = call.ctx
    figures, opening = call.book.figures(ctx.now)
    cash = money.text(money.cents(figures.cash))
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
        "buying_power": money.text(figures.buying_power),
        "regt_buying_power": money.text(figures.buying_power),
        "effective_buying_power": money.text(figures.buying_power),
        "non_marginable_buying_power": money.text(figures.options_buying_power),
        "options_buying_power": money.text(figures.options_buying_power),
        "bod_dtbp": "0",
        "cash": cash,
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": money.text(money.cents(figures.equity)),
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2024-01-02T15:04:05.123456Z",
        "trade_suspended_by_user": False,
        "multiplier": "2",
        "shorting_enabled": True,
        "equity": money.text(money.cents(figures.equity)),
        "last_equity": money.text(opening["last_equity"]),
        "long_market_value": money.text(figures.long_mv),
        "short_market_value": money.text(figures.short_mv),
        "position_market_value": money.text(figures.long_mv - figures.short_mv),
        "initial_margin": money.text(figures.initial_margin),
        "maintenance_margin": money.text(figures.maintenance_margin),
        "last_maintenance_margin": money.text(opening["last_maintenance_margin"]),
        "sma": money.text(money.cents(opening["sma"])),
        "balance_asof": previous.isoformat(),
        "crypto_tier": 1,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }
