"""Prices and hours: what people type, the bounds, the display in French and English."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.core.errors import ValidationFailed
from node.market.money import (
    MSG_AMOUNT_INVALID,
    MSG_AMOUNT_NEGATIVE,
    MSG_AMOUNT_ZERO,
    MSG_EUR_PER_HOUR_MAX,
    MSG_EUR_TOTAL_MAX,
    MSG_HOURS_INVALID,
    MSG_HOURS_RANGE,
    MSG_TOKENS_PER_HOUR_MAX,
    MSG_TOKENS_TOTAL_MAX,
    MSG_TOO_MANY_DECIMALS,
    Price,
    check_hours,
    check_price,
    check_total,
    format_amount,
    format_hours,
    format_price,
    parse_amount,
    parse_hours,
    parse_price,
    total_for,
)

NBSP = "\u00a0"
NNBSP = "\u202f"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("18", "18"),
        ("18,50", "18.50"),
        ("18.5", "18.5"),
        ("18.5 €", "18.5"),
        ("18,50€", "18.50"),
        ("€18", "18"),
        ("18 EUR", "18"),
        ("18 euros", "18"),
        ("18 €/h", "18"),
        ("18 € par heure", "18"),
        ("18/h", "18"),
        ("  18,5  ", "18.5"),
        ("1 200,50", "1200.50"),
        ("1\u202f200,50 €", "1200.50"),
        ("1\u00a0200", "1200"),
        ("1.200,50", "1200.50"),
        ("1,200.50", "1200.50"),
        ("1.200.000", "1200000"),
        ("0", "0"),
        ("3 h", "3"),
        ("1,5h", "1.5"),
        ("2 heures", "2"),
        ("2 hours", "2"),
    ],
)
def test_parse_amount_reads_what_people_type(typed: str, expected: str) -> None:
    assert parse_amount(typed) == Decimal(expected)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", MSG_AMOUNT_INVALID),
        ("abc", MSG_AMOUNT_INVALID),
        ("18 5", MSG_AMOUNT_INVALID),
        ("18.", MSG_AMOUNT_INVALID),
        ("1e3", MSG_AMOUNT_INVALID),
        ("NaN", MSG_AMOUNT_INVALID),
        ("Infinity", MSG_AMOUNT_INVALID),
        ("12,5.3", MSG_AMOUNT_INVALID),
        ("18 $", MSG_AMOUNT_INVALID),
        ("9" * 40, MSG_AMOUNT_INVALID),
        (" " * 1000 + "18", MSG_AMOUNT_INVALID),
        ("-5", MSG_AMOUNT_NEGATIVE),
        ("- 5 €", MSG_AMOUNT_INVALID),
        ("18,505", MSG_TOO_MANY_DECIMALS),
        ("1,200", MSG_TOO_MANY_DECIMALS),
    ],
)
def test_parse_amount_refuses_with_a_message_on_the_field(typed: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_amount(typed, field="budget")
    assert caught.value.message == message
    assert caught.value.fields == {"budget": message}


def test_parse_price_applies_the_bounds() -> None:
    assert parse_price("18,50") == Price(Decimal("18.50"), "EUR", "per_hour")
    assert parse_price("500") == Price(Decimal("500"), "EUR", "per_hour")
    assert parse_price("20000", basis="total") == Price(Decimal("20000"), "EUR", "total")
    assert parse_price("3", currency="HOUR", basis="total") == Price(Decimal("3"), "HOUR", "total")
    assert parse_price("0", allow_zero=True) == Price(Decimal("0"), "EUR", "per_hour")


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (Price(Decimal("500.01"), "EUR", "per_hour"), MSG_EUR_PER_HOUR_MAX),
        (Price(Decimal("20000.01"), "EUR", "total"), MSG_EUR_TOTAL_MAX),
        (Price(Decimal("10.5"), "HOUR", "per_hour"), MSG_TOKENS_PER_HOUR_MAX),
        (Price(Decimal("200.25"), "HOUR", "total"), MSG_TOKENS_TOTAL_MAX),
        (Price(Decimal("0"), "EUR", "total"), MSG_AMOUNT_ZERO),
        (Price(Decimal("-1"), "EUR", "total"), MSG_AMOUNT_NEGATIVE),
        (Price(Decimal("1.001"), "EUR", "total"), MSG_TOO_MANY_DECIMALS),
        (Price(Decimal("NaN"), "EUR", "total"), MSG_AMOUNT_INVALID),
    ],
)
def test_check_price_refuses_absurd_values(price: Price, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_price(price, field="price")
    assert caught.value.fields == {"price": message}


def test_check_price_accepts_bounds_and_trailing_zeros() -> None:
    assert check_price(Price(Decimal("200"), "HOUR", "total")).amount == 200
    assert check_price(Price(Decimal("10"), "HOUR", "per_hour")).amount == 10
    assert check_price(Price(Decimal("18.500"), "EUR", "per_hour")).amount == Decimal("18.5")


def test_unknown_currency_or_basis_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        check_price(Price(Decimal("1"), "USD", "total"))  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        check_price(Price(Decimal("1"), "EUR", "per_day"))  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["0.25", "1", "1,5", "3 h", "500"])
def test_hours_within_bounds(typed: str) -> None:
    assert Decimal("0.25") <= parse_hours(typed) <= Decimal("500")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", MSG_HOURS_RANGE),
        ("0.2", MSG_HOURS_RANGE),
        ("500.5", MSG_HOURS_RANGE),
        ("1.255", MSG_TOO_MANY_DECIMALS),
        ("deux", MSG_HOURS_INVALID),
    ],
)
def test_hours_out_of_bounds_are_refused(typed: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_hours(typed)
    assert caught.value.fields == {"quantity": message}


def test_check_hours_directly() -> None:
    assert check_hours(Decimal("2")) == 2
    with pytest.raises(ValidationFailed):
        check_hours(Decimal("Infinity"))


def test_totals() -> None:
    rate = Price(Decimal("18.33"), "EUR", "per_hour")
    assert total_for(rate, Decimal("0.25")) == Price(Decimal("4.58"), "EUR", "total")
    fixed = Price(Decimal("120"), "EUR", "total")
    assert total_for(fixed, Decimal("3")) is fixed
    assert check_total(rate, Decimal("3")).amount == Decimal("54.99")
    with pytest.raises(ValidationFailed) as caught:
        check_total(Price(Decimal("500"), "EUR", "per_hour"), Decimal("500"))
    assert caught.value.fields == {"price": MSG_EUR_TOTAL_MAX}
    with pytest.raises(ValidationFailed) as missing:
        check_total(rate, None)
    assert missing.value.fields == {"quantity": MSG_HOURS_INVALID}


@pytest.mark.parametrize(
    ("price", "fr", "en"),
    [
        (Price(Decimal("18.5"), "EUR", "per_hour"), f"18,50{NBSP}€/h", f"18.50{NBSP}€/h"),
        (Price(Decimal("18"), "EUR", "per_hour"), f"18{NBSP}€/h", f"18{NBSP}€/h"),
        (Price(Decimal("1200"), "EUR", "total"), f"1{NNBSP}200{NBSP}€", f"1,200{NBSP}€"),
        (Price(Decimal("12345.6"), "EUR", "total"), f"12{NNBSP}345,60{NBSP}€", f"12,345.60{NBSP}€"),
        (Price(Decimal("3"), "HOUR", "total"), f"3{NBSP}jetons temps", f"3{NBSP}time tokens"),
        (Price(Decimal("1.5"), "HOUR", "total"), f"1,5{NBSP}jeton temps", f"1.5{NBSP}time tokens"),
        (
            Price(Decimal("1"), "HOUR", "per_hour"),
            f"1{NBSP}jeton temps par heure",
            f"1{NBSP}time token per hour",
        ),
    ],
)
def test_format_price(price: Price, fr: str, en: str) -> None:
    assert format_price(price, "fr") == fr
    assert format_price(price, "en") == en
    assert format_price(price, "en-GB") == en
    assert format_price(price, "de") == fr  # French is the default


def test_format_amount_and_hours() -> None:
    assert format_amount(Decimal("0.5"), "fr") == "0,50"
    assert format_amount(Decimal("1234567"), "en") == "1,234,567"
    assert format_amount(Decimal("18"), "fr", cents=True) == "18,00"
    assert format_amount(Decimal("-3"), "en") == "-3"
    assert format_hours(Decimal("2.50"), "fr") == f"2,5{NBSP}h"
    assert format_hours(Decimal("0.25"), "en") == f"0.25{NBSP}h"
