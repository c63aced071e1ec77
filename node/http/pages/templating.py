"""Jinja2 set-up: translation callables bound to the request's language, and display filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from babel.dates import format_date, format_datetime, format_timedelta, get_timezone
from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from node.accounts.models import ROLE_LABELS, STATUS_LABELS, Role
from node.catalog import categories
from node.catalog.statuses import PROVIDER_STATUS_LABELS, ProviderStatus
from node.core.i18n import LANGUAGE_NAMES, LANGUAGES, Catalogs, current_language, locale_for
from node.settings import Settings

PARIS = get_timezone("Europe/Paris")
RECENT = timedelta(days=2)  # shown as "il y a …" below this, as a day beyond


def _newstyle_callables(catalogs: Catalogs) -> tuple[Any, Any]:
    """``_`` (and ``gettext``) and ``ngettext`` for the templates, as Jinja's newstyle callables do them
    (the message translated, marked safe when autoescaping, then its ``%(name)s`` variables substituted
    and escaped), in one call rather than three: a listing page calls them a few hundred times. They take
    the evaluation context (whether autoescaping is on), not the whole context as Jinja's own do: Jinja
    copies the context for such a call made after a ``{% set %}`` in a block or inside a loop, which cost
    a search page a few hundred microseconds."""

    def substituted(eval_ctx: EvalContext, translated: str, variables: dict[str, Any]) -> str:
        if eval_ctx.autoescape:
            translated = Markup(translated)
        if not variables and "%" not in translated:
            return translated
        return translated % variables

    @pass_eval_context
    def gettext(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        return substituted(eval_ctx, catalogs.gettext(message), variables)

    @pass_eval_context
    def ngettext(eval_ctx: EvalContext, singular: str, plural: str, n: int, /, **variables: Any) -> str:
        variables.setdefault("num", n)
        return substituted(eval_ctx, catalogs.ngettext(singular, plural, n), variables)

    return gettext, ngettext


@lru_cache(maxsize=4096)
def _day(local: date, this_year: bool, language: str) -> str:
    """A day as pages show it, "lundi 7 décembre" (with the year when it is not this year's): many
    cards of a listing share a day, and Babel formats one in tens of microseconds."""
    pattern = "EEEE d MMMM" if this_year else "EEEE d MMMM y"
    return format_date(local, format=pattern, locale=locale_for(language))


def install(env: Environment, catalogs: Catalogs, settings: Settings) -> None:
    """Bind gettext to the current language and register the filters pages use."""

    # With newstyle=True, Jinja itself substitutes the %(name)s variables after translating.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: catalogs.gettext(message),
        lambda singular, plural, n: catalogs.ngettext(singular, plural, n),
        newstyle=True,
    )
    gettext, ngettext = _newstyle_callables(catalogs)
    env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext)

    # One date format per context, the same on every page (all in Paris time):
    # - ``ago``: when something happened, relative while recent ("il y a 3 heures"), else its day;
    # - ``day``: a day, "lundi 7 décembre" (with the year when it is not this year's);
    # - ``moment``: a day and a time, for visits and deadlines ("lundi 7 décembre à 14:30");
    # - ``clock``: a time of day, "14:30", next to a day already said.
    def when(value: datetime | None, fmt: str = "medium") -> str:
        """A Babel format, for templates written before the filters above."""
        if value is None:
            return ""
        return format_datetime(value, format=fmt, tzinfo=PARIS, locale=locale_for(current_language.get()))

    def day(value: date | datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(PARIS).date() if isinstance(value, datetime) else value
        return _day(local, local.year == datetime.now(PARIS).year, current_language.get())

    def clock(value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, format="HH:mm", tzinfo=PARIS, locale=locale_for(current_language.get()))

    def moment(value: datetime | None) -> str:
        if value is None:
            return ""
        return catalogs.gettext("%(day)s at %(time)s") % {"day": day(value), "time": clock(value)}

    def ago(value: datetime | None) -> str:
        if value is None:
            return ""
        elapsed = datetime.now(UTC) - value.astimezone(UTC)
        if timedelta(0) <= elapsed < RECENT:
            if elapsed < timedelta(minutes=1):
                return catalogs.gettext("just now")
            locale = locale_for(current_language.get())
            return format_timedelta(-elapsed, add_direction=True, threshold=1.0, locale=locale)
        return day(value)

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
        clock=clock,
        moment=moment,
        ago=ago,
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
