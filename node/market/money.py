"""Prices and quantities of hours: reading what people type, refusing absurd values, display.

A :class:`Price` is an amount in euros (``EUR``) or in time tokens (``HOUR``: time-bank hours of a
cooperative node), per hour of service or for the whole service. Amounts are :class:`~decimal.Decimal`
with at most two decimals; nothing here uses binary floating point.

Bounds (refused with :class:`~node.core.errors.ValidationFailed`, the message naming the field):

- euros: more than 0, at most 500 € per hour, at most 20,000 € in total;
- time tokens: more than 0, at most 10 hours of tokens per hour of service, at most 200 in total;
- a quantity of service: 0.25 to 500 hours;
- at most two decimals everywhere; zero only where the caller allows it (``allow_zero``).

Input accepted: ``18``, ``18,50``, ``18.5 €``, ``€18``, ``1 200,50``, ``1.200,50``, ``1,200.50``,
``18 €/h``, ``3 h``. A single separator is the decimal one, so ``1,200`` reads as 1.2 with three
decimals and is refused rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from node.core.errors import N_, ValidationFailed

__all__ = [
    "EUR_PER_HOUR_MAX",
    "EUR_TOTAL_MAX",
    "HOURS_MAX",
    "HOURS_MIN",
    "TOKENS_PER_HOUR_MAX",
    "TOKENS_TOTAL_MAX",
    "Basis",
    "Currency",
    "Price",
    "check_hours",
    "check_price",
    "check_total",
    "format_amount",
    "format_hours",
    "format_price",
    "parse_amount",
    "parse_hours",
    "parse_price",
    "total_for",
]

Currency = Literal["EUR", "HOUR"]
Basis = Literal["per_hour", "total"]

EUR_PER_HOUR_MAX = Decimal("500")
EUR_TOTAL_MAX = Decimal("20000")
TOKENS_PER_HOUR_MAX = Decimal("10")
TOKENS_TOTAL_MAX = Decimal("200")
HOURS_MIN = Decimal("0.25")
HOURS_MAX = Decimal("500")
MAX_DECIMALS = 2
CENT = Decimal("0.01")

NBSP = "\u00a0"  # between a number and its unit: never break "18,50 €/h" across lines
NNBSP = "\u202f"  # French thousands separator

MSG_AMOUNT_INVALID = N_("Enter an amount, for example 18 or 18.50.")
MSG_AMOUNT_NEGATIVE = N_("The amount cannot be negative.")
MSG_AMOUNT_ZERO = N_("The amount must be greater than zero.")
MSG_TOO_MANY_DECIMALS = N_("Use at most two decimals.")
MSG_EUR_PER_HOUR_MAX = N_("At most 500 € per hour.")
MSG_EUR_TOTAL_MAX = N_("At most 20,000 € in total.")
MSG_TOKENS_PER_HOUR_MAX = N_("At most 10 hours of time tokens per hour of service.")
MSG_TOKENS_TOTAL_MAX = N_("At most 200 hours of time tokens.")
MSG_HOURS_INVALID = N_("Enter a number of hours, for example 2 or 1.5.")
MSG_HOURS_RANGE = N_("Between 0.25 and 500 hours.")
MSG_CURRENCY_INVALID = N_("Unknown currency.")
MSG_BASIS_INVALID = N_("Say whether the price is per hour or for the whole service.")

_CURRENCIES: frozenset[str] = frozenset({"EUR", "HOUR"})
_BASES: frozenset[str] = frozenset({"per_hour", "total"})

# What may surround the number: currency and unit marks, in French and English.
_PREFIX = re.compile(r"^(?:€|eur\b)\s*", re.IGNORECASE)
_SUFFIX = re.compile(
    r"\s*(?:€|eur(?:os?)?\b|jetons?\b|tokens?\b|h\b|heures?\b|hours?\b|hrs?\b)?"
    r"\s*(?:/\s*h(?:eure|our)?\b|par\s+heure\b|per\s+hour\b|de\s+l'heure\b)?\s*$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^([+-]?)(\d[\d.,]*)$")
_GROUP_SPACES = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009']+(?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Price:
    """An amount of euros or time tokens, per hour of service or for the whole service."""

    amount: Decimal
    currency: Currency
    basis: Basis

    @property
    def per_hour(self) -> bool:
        return self.basis == "per_hour"


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: message})


def _decimals(text: str) -> int:
    return len(text.rpartition(".")[2]) if "." in text else 0


def _normalise_number(raw: str) -> str | None:
    """``raw`` with its grouping removed and a ``.`` decimal point, or None if it is not a number."""
    if "," in raw and "." in raw:
        decimal_mark = "," if raw.rfind(",") > raw.rfind(".") else "."
        group_mark = "." if decimal_mark == "," else ","
        whole, _, fraction = raw.rpartition(decimal_mark)
        groups = whole.split(group_mark)
        if any(len(g) != 3 for g in groups[1:]) or not groups[0] or decimal_mark in whole:
            return None
        return "".join(groups) + "." + fraction
    for mark in (",", "."):
        if raw.count(mark) > 1:
            groups = raw.split(mark)
            if any(len(g) != 3 for g in groups[1:]):
                return None
            return "".join(groups)
    return raw.replace(",", ".")


def parse_amount(text: str, *, field: str = "price", invalid: str = MSG_AMOUNT_INVALID) -> Decimal:
    """The number in a typed amount (currency and unit marks allowed around it), not yet bounded."""
    if len(text) > 64:
        raise _refuse(field, invalid)
    body = _GROUP_SPACES.sub("", text.strip())
    body = _SUFFIX.sub("", _PREFIX.sub("", body)).strip()
    match = _NUMBER.match(body)
    if match is None or len(body) > 24:
        raise _refuse(field, invalid)
    sign, digits = match.groups()
    normalised = _normalise_number(digits)
    if normalised is None or normalised.endswith("."):
        raise _refuse(field, invalid)
    try:
        value = Decimal(normalised)
    except InvalidOperation:
        raise _refuse(field, invalid) from None
    if sign == "-" and value != 0:
        raise _refuse(field, MSG_AMOUNT_NEGATIVE)
    if _decimals(normalised) > MAX_DECIMALS:
        raise _refuse(field, MSG_TOO_MANY_DECIMALS)
    return value


def _has_too_many_decimals(value: Decimal) -> bool:
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent < -MAX_DECIMALS


def check_price(price: Price, *, field: str = "price", allow_zero: bool = False) -> Price:
    """``price`` if it is within the bounds, else :class:`ValidationFailed` naming ``field``."""
    if price.currency not in _CURRENCIES:
        raise _refuse(field, MSG_CURRENCY_INVALID)
    if price.basis not in _BASES:
        raise _refuse(field, MSG_BASIS_INVALID)
    amount = price.amount
    if not amount.is_finite():
        raise _refuse(field, MSG_AMOUNT_INVALID)
    if amount < 0:
        raise _refuse(field, MSG_AMOUNT_NEGATIVE)
    if amount == 0 and not allow_zero:
        raise _refuse(field, MSG_AMOUNT_ZERO)
    if _has_too_many_decimals(amount):
        raise _refuse(field, MSG_TOO_MANY_DECIMALS)
    if price.currency == "EUR":
        limit, message = (
            (EUR_PER_HOUR_MAX, MSG_EUR_PER_HOUR_MAX) if price.per_hour else (EUR_TOTAL_MAX, MSG_EUR_TOTAL_MAX)
        )
    else:
        limit, message = (
            (TOKENS_PER_HOUR_MAX, MSG_TOKENS_PER_HOUR_MAX)
            if price.per_hour
            else (TOKENS_TOTAL_MAX, MSG_TOKENS_TOTAL_MAX)
        )
    if amount > limit:
        raise _refuse(field, message)
    return price


def parse_price(
    text: str,
    *,
    currency: Currency = "EUR",
    basis: Basis = "per_hour",
    field: str = "price",
    allow_zero: bool = False,
) -> Price:
    """A bounded :class:`Price` from what someone typed."""
    return check_price(
        Price(parse_amount(text, field=field), currency, basis), field=field, allow_zero=allow_zero
    )


def check_hours(value: Decimal, *, field: str = "quantity") -> Decimal:
    """``value`` if it is a plausible quantity of service (0.25 to 500 hours, two decimals)."""
    if not value.is_finite():
        raise _refuse(field, MSG_HOURS_INVALID)
    if _has_too_many_decimals(value):
        raise _refuse(field, MSG_TOO_MANY_DECIMALS)
    if not HOURS_MIN <= value <= HOURS_MAX:
        raise _refuse(field, MSG_HOURS_RANGE)
    return value


def parse_hours(text: str, *, field: str = "quantity") -> Decimal:
    """A bounded quantity of hours from what someone typed ("2", "1,5", "3 h")."""
    value = parse_amount(text, field=field, invalid=MSG_HOURS_INVALID)
    return check_hours(value, field=field)


def total_for(price: Price, hours: Decimal) -> Price:
    """The price of the whole service: ``price`` itself when it is a total, else rate × hours rounded
    to the cent. Not bounded: see :func:`check_total`."""
    if not price.per_hour:
        return price
    return Price((price.amount * hours).quantize(CENT, rounding=ROUND_HALF_UP), price.currency, "total")


def check_total(price: Price, hours: Decimal | None, *, field: str = "price") -> Price:
    """The bounded total of ``price`` for ``hours``: 500 €/h for 500 hours is refused here.

    A price per hour without a quantity of hours has no total; it is refused naming ``quantity``.
    """
    if not price.per_hour:
        return check_price(price, field=field, allow_zero=True)
    if hours is None:
        raise _refuse("quantity", MSG_HOURS_INVALID)
    return check_price(total_for(price, hours), field=field, allow_zero=True)


# --- display ------------------------------------------------------------------------------------


def _is_english(lang: str) -> bool:
    return lang.lower().startswith("en")


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_amount(amount: Decimal, lang: str, *, cents: bool | None = None) -> str:
    """A number as written in ``lang``: ``1 200,50`` (fr) or ``1,200.50`` (en).

    ``cents`` forces two decimals (True) or the shortest form (False); by default two decimals are
    shown only when the amount has cents.
    """
    english = _is_english(lang)
    value = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    show_cents = cents if cents is not None else value != value.to_integral_value()
    text = f"{abs(value):.2f}" if show_cents else f"{abs(value.normalize()):f}"
    whole, _, fraction = text.partition(".")
    grouped = _group(whole, "," if english else NNBSP)
    sign = "-" if value < 0 else ""
    if not fraction:
        return sign + grouped
    return sign + grouped + ("." if english else ",") + fraction


def format_hours(hours: Decimal, lang: str) -> str:
    """A quantity of hours: ``1,5 h`` (fr) or ``1.5 h`` (en)."""
    return format_amount(hours, lang, cents=False) + NBSP + "h"


def format_price(price: Price, lang: str) -> str:
    """A price for display: ``18,50 €/h``, ``120 €``, ``3 jetons temps``, ``1 time token per hour``
    (a time token is one hour of time given; French uses the singular below two). Amount and unit are
    joined by a no-break space."""
    english = _is_english(lang)
    if price.currency == "EUR":
        unit = "€/h" if price.per_hour else "€"
        return format_amount(price.amount, lang) + NBSP + unit
    amount = format_amount(price.amount, lang, cents=False)
    if english:
        tokens = "time token" if price.amount == 1 else "time tokens"
    else:
        tokens = "jeton temps" if price.amount < 2 else "jetons temps"
    rate = (" per hour" if english else " par heure") if price.per_hour else ""
    return f"{amount}{NBSP}{tokens}{rate}"
