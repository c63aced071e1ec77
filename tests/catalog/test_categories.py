"""Tests for the 26 SAP categories of article D7231-1 of the Code du travail."""

from __future__ import annotations

import re

import pytest

from node.catalog.categories import (
    CATEGORIES,
    GROUP_LABELS,
    Category,
    CategoryGroup,
    UnknownCategory,
    by_slug,
    group_label,
    in_group,
    is_category,
    label,
)

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_exactly_26_categories() -> None:
    assert len(CATEGORIES) == 26
    assert all(isinstance(c, Category) for c in CATEGORIES)


def test_slugs_unique_and_well_formed() -> None:
    slugs = [c.slug for c in CATEGORIES]
    assert len(set(slugs)) == len(slugs)
    for slug in slugs:
        assert SLUG.match(slug), slug


def test_article_order_and_legal_refs() -> None:
    refs = [c.legal_ref for c in CATEGORIES]
    expected = [f"D7231-1 I {n}°" for n in range(1, 6)] + [f"D7231-1 II {n}°" for n in range(1, 22)]
    assert refs == expected


def test_every_group_non_empty_and_labelled() -> None:
    for group in CategoryGroup:
        assert in_group(group), group
        assert set(GROUP_LABELS[group]) == {"fr", "en"}
        assert group_label(group, "fr") and group_label(group, "en")
    assert sum(len(in_group(g)) for g in CategoryGroup) == 26
    assert in_group("family") == in_group(CategoryGroup.FAMILY)


def test_approval_flags() -> None:
    gated = [c for c in CATEGORIES if c.requires_approval]
    assert [c.legal_ref for c in gated] == [f"D7231-1 I {n}°" for n in range(1, 6)]
    assert {c.regime for c in gated} == {"agrement", "autorisation"}
    assert by_slug("childcare-under-3").regime == "agrement"
    assert by_slug("child-escort-under-3").regime == "agrement"
    assert by_slug("elderly-disabled-assistance").regime == "autorisation"
    for c in CATEGORIES[5:]:
        assert c.regime == "declaration"
        assert not c.requires_approval


def test_known_slugs() -> None:
    assert by_slug("housework").group is CategoryGroup.HOUSEHOLD
    assert by_slug("gardening").group is CategoryGroup.HOME_GARDEN
    assert by_slug("childcare-over-3").group is CategoryGroup.FAMILY
    assert by_slug("tutoring").legal_ref == "D7231-1 II 5°"
    assert is_category("handyman")
    assert not is_category("plumbing")
    assert not is_category("")


def test_unknown_slug_error() -> None:
    with pytest.raises(UnknownCategory) as info:
        by_slug("plumbing")
    assert info.value.slug == "plumbing"
    assert isinstance(info.value, ValueError)
    assert "plumbing" in str(info.value)


def test_labels() -> None:
    hw = by_slug("housework")
    assert label(hw, "fr") == hw.label_fr
    assert label(hw, "en") == hw.label_en
    assert label(hw, "en-GB") == hw.label_en
    assert label(hw, "de") == hw.label_fr
    assert label("housework", "en") == hw.label_en
    for c in CATEGORIES:
        assert c.label_fr.strip() and c.label_en.strip()
        assert c.label_fr != c.label_en


def test_category_is_immutable() -> None:
    c = by_slug("housework")
    with pytest.raises(AttributeError):
        c.slug = "other"  # type: ignore[misc]
