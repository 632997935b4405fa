"""The rules that decide a request, written as OpenAPI, so a request the description allows is one the service takes.

Patterns come from the validators' own (opitios/symbols.py); the order's cross-field rules become
``oneOf`` branches; the rules no JSON Schema can state (one argument not after another, a header
equal to a body field) are listed under the operation's ``x-cross-field-rules`` and told in prose.
"""

from __future__ import annotations

from opitios import symbols
from opitios.schemas.trading import NEEDS_LIMIT, NEEDS_STOP, ORDER_TYPES, OrderArgs

PATTERNS = {"stock": symbols.STOCK_PATTERN, "option": symbols.OCC_PATTERN}
# A positive decimal: a non-zero digit before or after the point (what PositiveDecimal takes as a string).
DECIMAL = r"^(?:[0-9]*[1-9][0-9]*(?:\.[0-9]*)?|0*\.[0-9]*[1-9][0-9]*)$"
WHOLE = r"^0*[1-9][0-9]*(?:\.0*)?$"  # a positive decimal with no fraction: whole shares or contracts
ORDER_TYPES_COMPONENT = "OrderTypes"


def _left_out() -> dict:
    """Absent or null: both mean "not sent"."""
    return {"nullable": True, "enum": [None]}


def symbol_pattern(kind: str) -> str:
    """One symbol of ``kind`` ("stock" or "option"), as its validator takes it."""
    return f"^{PATTERNS[kind]}$"


def symbol_list_pattern(kind: str, most: int) -> str:
    """1..``most`` comma-separated symbols, as the query form takes them: blank parts and spaces around are ignored."""
    one = PATTERNS[kind]
    return rf"^(?:\s*,)*\s*{one}\s*(?:(?:,\s*)+{one}\s*){{0,{most - 1}}}(?:,\s*)*$"


def order_types() -> dict:
    """What each order type needs, as ``oneOf`` branches: the component every order's rules refer to."""
    default_type = OrderArgs().fields["type"].load_default
    return {"oneOf": [_order_type(order_type, order_type == default_type) for order_type in ORDER_TYPES]}


def order_rules(schema: OrderArgs) -> dict:
    """What an order's type needs, and what its instrument allows, as ``allOf`` of ``oneOf`` branches."""
    rules = [{"$ref": f"#/components/schemas/{ORDER_TYPES_COMPONENT}"}]
    instruments = _instruments(schema)
    rules.append({"oneOf": instruments} if len(instruments) > 1 else instruments[0])
    return {"allOf": rules}


def _order_type(order_type: str, is_default: bool) -> dict:
    """One order type: the prices it needs (sent, not null) and the ones it refuses (left out or null)."""
    branch = {"properties": {"type": {"enum": [order_type]}}, "required": [] if is_default else ["type"]}
    for price, needed_by in (("limit_price", NEEDS_LIMIT), ("stop_price", NEEDS_STOP)):
        if order_type in needed_by:
            branch["required"].append(price)
            branch["properties"][price] = {"type": "string"}
        else:
            branch["properties"][price] = _left_out()
    if not branch["required"]:
        del branch["required"]
    return branch


def _shares() -> dict:
    """Fractional shares only in a day order."""
    whole = {"properties": {"qty": {"pattern": WHOLE}}}
    return {"anyOf": [whole, {"properties": {"time_in_force": {"enum": ["day"]}}}]}


def _named_by(field: str, kind: str) -> dict:
    other = "option_symbol" if field == "symbol" else "symbol"
    named = {"type": "string", "pattern": symbol_pattern(kind)}
    branch = {"required": [field], "properties": {field: named, other: _left_out()}}
    if kind == "stock":
        branch.update(_shares())
    else:  # option contracts are whole
        branch["properties"]["qty"] = {"pattern": WHOLE}
    return branch


def _instruments(schema: OrderArgs) -> list[dict]:
    """Exactly one instrument: a stock ``symbol``, an OCC ``option_symbol`` or (where allowed) an OCC ``symbol``."""
    if "symbol" not in schema.fields:  # the path names the stock
        return [_shares()]
    branches = {
        "stock": [_named_by("symbol", "stock")],
        "option": [_named_by("option_symbol", "option"), _named_by("symbol", "option")],
    }
    if schema.kind == "any":
        return [*branches["stock"], *branches["option"]]
    return branches[schema.kind]


def cross_field_rules(schemas, extra: tuple[dict, ...] = ()) -> list[dict]:
    """``x-cross-field-rules``: each schema's ordered pairs, then the operation's own rules."""
    rules = [
        {"rule": "ordered", "fields": [pair.first, pair.last], "error": pair.code}
        for schema in schemas
        if schema is not None
        for pair in schema.ordered
    ]
    return [*rules, *extra]


def told(rule: dict) -> str:
    """A rule in a sentence, for the operation's description."""
    first, last = (f"`{name}`" for name in rule["fields"])
    if rule["rule"] == "ordered":
        return f"When both {first} and {last} are sent, {first} may not be past {last} (400 `{rule['error']}`)."
    return f"When both {first} and {last} are sent, they must be equal (400 `{rule['error']}`)."
