"""The rules the API's input shapes declare once for both the check and the OpenAPI document: the
patterns made from bounds match exactly the values within them, and a request is refused where the
document says it is."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from node.http.api.schemas import DecimalText, Strict, integers_pattern, text, visible_run


@pytest.mark.parametrize(("low", "high"), [(0, 0), (0, 99), (10, 49), (7, 1234), (1, 19_999)])
def test_integers_pattern_matches_exactly_the_range(low: int, high: int) -> None:
    pattern = re.compile(f"^(?:{integers_pattern(low, high)})$")
    assert [n for n in range(25_000) if bool(pattern.match(str(n))) != (low <= n <= high)] == []
    assert not any(pattern.match(text) for text in ("", "00", "05", "-1", "1.0"))


@pytest.mark.parametrize(
    ("bounds", "places", "above"),
    [
        ((Decimal("0.25"), Decimal(500)), 2, False),
        ((Decimal(0), Decimal(200)), 2, True),
        ((Decimal(10), Decimal(50)), None, False),
    ],
)
def test_a_decimal_string_is_accepted_exactly_within_its_bounds(
    bounds: tuple[Decimal, Decimal], places: int | None, above: bool
) -> None:
    low, high = bounds
    declared = DecimalText.between(low, high, places=places, above=above)

    class Model(BaseModel):
        value: Annotated[Decimal, declared]

    pattern = re.compile(declared.pattern)
    for hundredths in range(0, 60_000, 7):
        value = Decimal(hundredths) / 100
        within = (low < value if above else low <= value) and value <= high
        written = format(value, "f")
        assert bool(pattern.search(written)) == within, written
        try:
            Model.model_validate_json(f'{{"value": "{written}"}}', strict=True)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == within, written
    if places is not None:  # more decimals than allowed: refused as a string
        assert not pattern.search(format(high - Decimal(1) + Decimal("0.001"), "f"))
    schema = Model.model_json_schema()["properties"]["value"]["anyOf"]
    number = next(branch for branch in schema if branch["type"] == "number")
    assert number.get("exclusiveMinimum" if above else "minimum") == float(low)
    assert number["maximum"] == float(high)


def test_a_decimal_refuses_other_writings_and_types() -> None:
    class Model(BaseModel):
        value: Annotated[Decimal, DecimalText.between(Decimal(0), Decimal(100))]

    assert Model.model_validate_json('{"value": 12.5}', strict=True).value == Decimal("12.5")
    for raw in ('" 12"', '"1e1"', '"12,5"', '"+3"', "true", "null", '"NaN"', "100.5"):
        with pytest.raises(ValidationError):
            Model.model_validate_json(f'{{"value": {raw}}}', strict=True)


def test_a_required_text_shows_visible_characters() -> None:
    class Model(Strict):
        name: str = text(3, 20)

    assert Model.model_validate_json('{"name": "  Abc  "}', strict=True).name == "Abc"
    for raw in ("   ", "\\u0085\\u0085\\u0085", "\\u0001\\u0002\\u0003", "ab", " a  "):
        with pytest.raises(ValidationError):
            Model.model_validate_json(f'{{"name": "{raw}"}}', strict=True)
    assert Model.model_json_schema()["properties"]["name"]["pattern"] == visible_run(3)
