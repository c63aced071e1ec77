"""Jinja2 set-up: translation callables bound to the request's language, and display filters."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_datetime, get_timezone
from jinja2 import Environment

from node.accounts.models import ROLE_LABELS, STATUS_LABELS, Role
from node.catalog import categories
from node.catalog.statuses import PROVIDER_STATUS_LABELS, ProviderStatus
from node.core.i18n import LANGUAGE_NAMES, LANGUAGES, Catalogs, current_language, locale_for
from node.settings import Settings

PARIS = get_timezone("Europe/Paris")


def install(env: Environment, catalogs: Catalogs, settings: Settings) -> None:
    """Bind gettext to the current language and register the filters pages use."""

    # With newstyle=True, Jinja itself substitutes the %(name)s variables after translating.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: catalogs.gettext(message),
        lambda singular, plural, n: catalogs.ngettext(singular, plural, n),
        newstyle=True,
    )

    def when(value: datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return ""
        return format_datetime(value, format=fmt, tzinfo=PARIS, locale=locale_for(current_language.get()))

    def day(value: datetime | None, fmt: str = "long") -> str:
        if value is None:
            return ""
        local = value.astimezone(PARIS)
        return format_date(local.date(), format=fmt, locale=locale_for(current_language.get()))

    def category_label(slug: str) -> str:
        try:
            return categories.label(categories.by_slug(slug), current_language.get())
        except ValueError:
            return slug

    def group_label(group: categories.CategoryGroup) -> str:
        return categories.group_label(group, current_language.get())

    def role_label(role: str) -> str:
        return catalogs.gettext(ROLE_LABELS[Role(role)]) if role in Role._value2member_map_ else role

    def provider_label(status: str) -> str:
        if status in ProviderStatus._value2member_map_:
            return catalogs.gettext(PROVIDER_STATUS_LABELS[ProviderStatus(status)])
        return status

    def status_label(status: str) -> str:
        for key, label in STATUS_LABELS.items():
            if key.value == status:
                return catalogs.gettext(label)
        return status

    env.filters.update(
        when=when,
        day=day,
        category_label=category_label,
        group_label=group_label,
        role_label=role_label,
        provider_label=provider_label,
        status_label=status_label,
        t=lambda message: catalogs.gettext(message),
    )
    env.globals.update(
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        categories=categories,
        provider_statuses=list(ProviderStatus),
        roles=list(Role),
        node_name=settings.node_name,
    )
