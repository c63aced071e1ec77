"""When a service takes place: one time window, or a weekly recurrence.

- :class:`TimeWindow`: a start and an end, aware datetimes (any zone; compared as instants).
- :class:`WeeklyRecurrence`: some days of the week, a daily slot (wall-clock start and end times in
  ``tz``, Europe/Paris unless the commune is overseas), from a first day to a last day, at most 52
  weeks. A slot whose end time is not after its start time ends the next day (night care, 21 h to
  7 h).

Rules: :func:`structure_errors` lists what makes a schedule meaningless (applied to everything,
including what other nodes send); :func:`validate` adds what a new schedule must respect (not in the
past, at most a year ahead, a plausible duration) and raises :class:`~node.core.errors.ValidationFailed`.

JSON (the object that carries the schedule, a ``Proposal`` or an ``Agreement``, gets these
properties):

- a window is ActivityStreams ``startTime``/``endTime``;
- a recurrence keeps ``startTime``/``endTime`` for its first occurrence (what software without our
  extension shows) and adds ``eventSchedule``, a schema.org ``Schedule``::

      "eventSchedule": {"type": "Schedule", "repeatFrequency": "P1W", "byDay": ["TU", "TH"],
                        "startDate": "2025-03-03", "endDate": "2025-03-31",
                        "dailyStartTime": "14:00", "dailyEndTime": "16:00",
                        "scheduleTimezone": "Europe/Paris"}

  ``byDay`` uses the iCalendar day codes, as schema.org allows; ``dailyStartTime``/``dailyEndTime``
  are our terms (schema.org's ``startTime``/``endTime`` would clash with ActivityStreams' in the same
  context). Day names (``Tuesday``) and schema.org ``DayOfWeek`` IRIs are read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from node.core.errors import N_, ValidationFailed

__all__ = [
    "DAY_CODES",
    "PARIS",
    "Schedule",
    "TimeWindow",
    "WeeklyRecurrence",
    "first_window",
    "format_instant",
    "from_json",
    "next_start",
    "occurrences",
    "parse_instant",
    "span",
    "structure_errors",
    "summary",
    "to_json",
    "validate",
]

PARIS = "Europe/Paris"
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

MAX_WEEKS = 52
MIN_DURATION = timedelta(minutes=15)
MAX_WINDOW = timedelta(days=31)
MAX_SLOT = timedelta(hours=12)
MAX_AHEAD = timedelta(days=366)

MSG_END_BEFORE_START = N_("The end must be after the start.")
MSG_START_PAST = N_("The start is in the past.")
MSG_TOO_FAR = N_("At most one year ahead.")
MSG_TOO_SHORT = N_("A service lasts at least 15 minutes.")
MSG_WINDOW_TOO_LONG = N_("A time window lasts at most 31 days.")
MSG_SLOT_LENGTH = N_("A weekly slot lasts from 15 minutes to 12 hours.")
MSG_NO_WEEKDAY = N_("Choose at least one day of the week.")
MSG_LAST_BEFORE_FIRST = N_("The last day must be on or after the first day.")
MSG_TOO_MANY_WEEKS = N_("A weekly schedule lasts at most 52 weeks.")
MSG_NO_OCCURRENCE = N_("None of the chosen days falls between the first and the last day.")
MSG_FIRST_DAY_PAST = N_("The first day is in the past.")
MSG_UNKNOWN_TIMEZONE = N_("Unknown time zone.")
MSG_SOME_FIELDS = N_("Some fields need attention.")


@dataclass(frozen=True)
class TimeWindow:
    """One period of service between two instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time window needs aware datetimes")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class WeeklyRecurrence:
    """The same slot on some days of every week, from ``first_day`` to ``last_day`` inclusive.

    ``weekdays`` are numbered as :meth:`date.weekday` (0 is Monday), kept sorted without repeats.
    """

    weekdays: tuple[int, ...]
    start_time: time
    end_time: time
    first_day: date
    last_day: date
    tz: str = PARIS

    def __post_init__(self) -> None:
        days = tuple(sorted(set(self.weekdays)))
        if any(not 0 <= d <= 6 for d in days):
            raise ValueError("weekdays are numbered 0 (Monday) to 6 (Sunday)")
        if self.start_time.tzinfo is not None or self.end_time.tzinfo is not None:
            raise ValueError("daily times are wall-clock times, without a zone")
        object.__setattr__(self, "weekdays", days)

    @property
    def overnight(self) -> bool:
        """True when the slot ends on the next day."""
        return self.end_time <= self.start_time

    @property
    def slot_length(self) -> timedelta:
        start = datetime.combine(date(2000, 1, 3), self.start_time)
        end = datetime.combine(date(2000, 1, 4 if self.overnight else 3), self.end_time)
        return end - start


Schedule = TimeWindow | WeeklyRecurrence


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_today(tz: str = PARIS) -> date:
    """Today's date in ``tz`` (Paris when unknown), the day :func:`summary` writes dates for."""
    return datetime.now(_zone(tz) or ZoneInfo(PARIS)).date()


def _occurrence(rec: WeeklyRecurrence, day: date, zone: ZoneInfo) -> TimeWindow:
    end_day = day + timedelta(days=1) if rec.overnight else day
    return TimeWindow(
        datetime.combine(day, rec.start_time, tzinfo=zone),
        datetime.combine(end_day, rec.end_time, tzinfo=zone),
    )


def _days(rec: WeeklyRecurrence) -> list[date]:
    count = (rec.last_day - rec.first_day).days + 1
    if count <= 0 or count > MAX_WEEKS * 7:
        return []
    days = (rec.first_day + timedelta(days=i) for i in range(count))
    return [d for d in days if d.weekday() in rec.weekdays]


def _has_day(rec: WeeklyRecurrence) -> bool:
    """Whether ``rec`` has an occurrence (``_days`` is not empty), looking at its first week only: every
    proposal shown checks its schedule, and listing a year of days each time cost more than the rest."""
    count = (rec.last_day - rec.first_day).days + 1
    if count <= 0 or count > MAX_WEEKS * 7:
        return False
    return any((rec.first_day + timedelta(days=i)).weekday() in rec.weekdays for i in range(min(count, 7)))


def occurrences(schedule: Schedule) -> list[TimeWindow]:
    """Every period of service, in order (a window is its own single occurrence).

    A recurrence longer than 52 weeks or in an unknown zone has none: check it first.
    """
    if isinstance(schedule, TimeWindow):
        return [schedule]
    zone = _zone(schedule.tz)
    if zone is None:
        return []
    return [_occurrence(schedule, day, zone) for day in _days(schedule)]


def first_window(schedule: Schedule) -> TimeWindow | None:
    """The first occurrence, or None when a recurrence has none."""
    found = occurrences(schedule)
    return found[0] if found else None


def span(schedule: Schedule) -> TimeWindow | None:
    """From the start of the first occurrence to the end of the last one."""
    found = occurrences(schedule)
    return TimeWindow(found[0].start, found[-1].end) if found else None


def next_start(schedule: Schedule, now: datetime) -> datetime | None:
    """The start of the first occurrence that has not started at ``now``."""
    return next((w.start for w in occurrences(schedule) if w.start > now), None)


# --- rules ----------------------------------------------------------------------------------------


def structure_errors(schedule: Schedule) -> dict[str, str]:
    """What makes ``schedule`` meaningless, by field (empty when it is sound)."""
    errors: dict[str, str] = {}
    if isinstance(schedule, TimeWindow):
        if schedule.end <= schedule.start:
            errors["end"] = MSG_END_BEFORE_START
        return errors
    if not schedule.weekdays:
        errors["weekdays"] = MSG_NO_WEEKDAY
    if schedule.start_time == schedule.end_time:
        errors["end_time"] = MSG_END_BEFORE_START
    if _zone(schedule.tz) is None:
        errors["timezone"] = MSG_UNKNOWN_TIMEZONE
    if schedule.last_day < schedule.first_day:
        errors["last_day"] = MSG_LAST_BEFORE_FIRST
    elif (schedule.last_day - schedule.first_day).days >= MAX_WEEKS * 7:
        errors["last_day"] = MSG_TOO_MANY_WEEKS
    elif schedule.weekdays and not _has_day(schedule):
        errors["weekdays"] = MSG_NO_OCCURRENCE
    return errors


def _timing_errors(schedule: Schedule, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    if isinstance(schedule, TimeWindow):
        if schedule.start < now:
            errors["start"] = MSG_START_PAST
        elif schedule.start > now + MAX_AHEAD:
            errors["start"] = MSG_TOO_FAR
        if schedule.duration < MIN_DURATION:
            errors["end"] = MSG_TOO_SHORT
        elif schedule.duration > MAX_WINDOW:
            errors["end"] = MSG_WINDOW_TOO_LONG
        return errors
    zone = _zone(schedule.tz)
    if zone is None:
        return errors
    today = now.astimezone(zone).date()
    if schedule.first_day < today:
        errors["first_day"] = MSG_FIRST_DAY_PAST
    elif schedule.first_day > today + MAX_AHEAD:
        errors["first_day"] = MSG_TOO_FAR
    elif next_start(schedule, now) is None:
        errors["weekdays"] = MSG_NO_OCCURRENCE
    if not MIN_DURATION <= schedule.slot_length <= MAX_SLOT:
        errors["end_time"] = MSG_SLOT_LENGTH
    return errors


def validate(schedule: Schedule, *, now: datetime) -> Schedule:
    """``schedule`` if a new proposal or bid may carry it at ``now``, else :class:`ValidationFailed`
    whose ``fields`` name the faulty parts (``start``, ``end``, ``weekdays``, ``start_time``,
    ``end_time``, ``first_day``, ``last_day``, ``timezone``)."""
    errors = structure_errors(schedule)
    if not errors:
        errors = _timing_errors(schedule, now)
    if errors:
        message = next(iter(errors.values())) if len(errors) == 1 else MSG_SOME_FIELDS
        raise ValidationFailed(message, fields=errors)
    return schedule


# --- JSON -----------------------------------------------------------------------------------------


def format_instant(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; fractions of a second are kept when there are some."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: object, name: str = "date") -> datetime:
    """An RFC 3339 / ISO 8601 timestamp as an aware UTC datetime (no offset means UTC)."""
    if not isinstance(text, str) or len(text) > 64:
        raise ValueError(f"field {name!r} must be a date string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"field {name!r}: {text[:40]!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _format_time(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def to_json(schedule: Schedule) -> dict[str, Any]:
    """The properties that carry ``schedule`` on its object (see the module docstring)."""
    if isinstance(schedule, TimeWindow):
        return {"startTime": format_instant(schedule.start), "endTime": format_instant(schedule.end)}
    result: dict[str, Any] = {}
    first = first_window(schedule)
    if first is not None:
        result = {"startTime": format_instant(first.start), "endTime": format_instant(first.end)}
    result["eventSchedule"] = {
        "type": "Schedule",
        "repeatFrequency": "P1W",
        "byDay": [DAY_CODES[d] for d in schedule.weekdays],
        "startDate": schedule.first_day.isoformat(),
        "endDate": schedule.last_day.isoformat(),
        "dailyStartTime": _format_time(schedule.start_time),
        "dailyEndTime": _format_time(schedule.end_time),
        "scheduleTimezone": schedule.tz,
    }
    return result


def _weekday(value: object) -> int:
    if isinstance(value, str):
        name = value.rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]
        if name.upper() in DAY_CODES:
            return DAY_CODES.index(name.upper())
        if name.capitalize() in _DAY_NAMES_EN:
            return _DAY_NAMES_EN.index(name.capitalize())
    raise ValueError(f"field 'byDay': {str(value)[:20]!r} is not a day of the week")


def _date(data: Mapping[str, Any], name: str) -> date:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"missing required field {name!r} of a schedule")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"field {name!r} is not a date") from None


def _time(data: Mapping[str, Any], name: str) -> time:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"missing required field {name!r} of a schedule")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"field {name!r} is not a time of day") from None
    if parsed.tzinfo is not None:
        raise ValueError(f"field {name!r} must be a wall-clock time, without offset")
    return parsed


def _recurrence(data: object) -> WeeklyRecurrence:
    if not isinstance(data, Mapping):
        raise ValueError("field 'eventSchedule' must be an object")
    frequency = data.get("repeatFrequency", "P1W")
    if frequency not in ("P1W", "P7D"):
        raise ValueError("field 'repeatFrequency': only weekly schedules are supported")
    days = data.get("byDay")
    if isinstance(days, str):
        days = [days]
    if not isinstance(days, list) or not days or len(days) > 7:
        raise ValueError("field 'byDay' must list days of the week")
    zone = data.get("scheduleTimezone", PARIS)
    if not isinstance(zone, str) or _zone(zone) is None:
        raise ValueError("field 'scheduleTimezone' is not a known time zone")
    return WeeklyRecurrence(
        weekdays=tuple(_weekday(d) for d in days),
        start_time=_time(data, "dailyStartTime"),
        end_time=_time(data, "dailyEndTime"),
        first_day=_date(data, "startDate"),
        last_day=_date(data, "endDate"),
        tz=zone,
    )


def from_json(data: Mapping[str, Any]) -> Schedule | None:
    """The schedule carried by an object, or None when it has none.

    ``eventSchedule`` wins over ``startTime``/``endTime``; a window needs both. Raises
    :class:`ValueError` naming the field when what is there is malformed or meaningless.
    """
    schedule: Schedule | None = None
    if data.get("eventSchedule") is not None:
        schedule = _recurrence(data["eventSchedule"])
    elif data.get("startTime") is not None and data.get("endTime") is not None:
        schedule = TimeWindow(
            parse_instant(data["startTime"], "startTime"), parse_instant(data["endTime"], "endTime")
        )
    if schedule is not None:
        errors = structure_errors(schedule)
        if errors:
            field, message = next(iter(errors.items()))
            raise ValueError(f"schedule: {field}: {message}")
    return schedule


# --- human summary ----------------------------------------------------------------------------


_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": _DAY_NAMES_EN,
}
_MONTHS = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def _lang(lang: str) -> str:
    return "en" if lang.lower().startswith("en") else "fr"


def _day_number(day: date, lang: str) -> str:
    return "1er" if lang == "fr" and day.day == 1 else str(day.day)


def _day_month(day: date, lang: str, year: bool) -> str:
    text = f"{_day_number(day, lang)} {_MONTHS[lang][day.month - 1]}"
    return f"{text} {day.year}" if year else text


def _full_date(day: date, lang: str, this_year: int) -> str:
    return f"{_DAYS[lang][day.weekday()]} {_day_month(day, lang, year=day.year != this_year)}"


def _clock_fr(value: time) -> str:
    return f"{value.hour} h {value.minute:02d}" if value.minute else f"{value.hour} h"


def _clock_en(value: time, meridiem: bool = True) -> str:
    hour = value.hour % 12 or 12
    text = f"{hour}:{value.minute:02d}" if value.minute else str(hour)
    return f"{text} {'am' if value.hour < 12 else 'pm'}" if meridiem else text


def _slot(start: time, end: time, lang: str) -> str:
    """``de 14 h à 16 h`` / ``2–4 pm``."""
    if lang == "fr":
        return f"de {_clock_fr(start)} à {_clock_fr(end)}"
    if (start.hour < 12) == (end.hour < 12) and end > start:
        return f"{_clock_en(start, meridiem=False)}–{_clock_en(end)}"
    return f"{_clock_en(start)} – {_clock_en(end)}"


def _date_range(first: date, last: date, lang: str, this_year: int) -> str:
    """``du 3 au 31 mars`` / ``3–31 March``; the year written once at the end when the range is in
    another year than ``this_year`` (``du 3 au 31 mars 2025``), on both ends when it crosses one."""
    crosses = first.year != last.year
    year = crosses or last.year != this_year
    if first == last:
        return ("le " if lang == "fr" else "") + _day_month(first, lang, year=year)
    same_month = not crosses and first.month == last.month
    if lang == "fr":
        if same_month:
            return f"du {_day_number(first, lang)} au {_day_month(last, lang, year=year)}"
        return f"du {_day_month(first, lang, crosses)} au {_day_month(last, lang, year)}"
    if same_month:
        return f"{first.day}–{_day_month(last, lang, year=year)}"
    return f"{_day_month(first, lang, crosses)} – {_day_month(last, lang, year)}"


def _join(items: list[str], lang: str) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + (" et " if lang == "fr" else " and ") + items[-1]


def _weekdays(weekdays: tuple[int, ...], lang: str) -> str:
    if len(weekdays) == 7:
        return "tous les jours" if lang == "fr" else "Every day"
    if lang == "fr":
        return _join([f"le {_DAYS['fr'][d]}" for d in weekdays], lang)
    return _join([_DAYS["en"][d] + "s" for d in weekdays], lang)


def summary(schedule: Schedule, lang: str, tz: str = PARIS, today: date | None = None) -> str:
    """A short description for people, in French (the default) or English.

    ``le mardi de 14 h à 16 h, du 3 au 31 mars`` / ``Tuesdays 2–4 pm, 3–31 March``;
    ``le mardi 4 mars de 14 h à 16 h`` / ``Tuesday 4 March, 2–4 pm``. The year is written only for a
    date outside the current one (``today``'s, in ``tz``: this year's dates need none). A window is
    shown in ``tz``, a recurrence in its own zone.
    """
    language = _lang(lang)
    zone = _zone(tz) or ZoneInfo(PARIS)
    this_year = (today or local_today(tz)).year
    if isinstance(schedule, WeeklyRecurrence):
        days = _weekdays(schedule.weekdays, language)
        slot = _slot(schedule.start_time, schedule.end_time, language)
        return f"{days} {slot}, {_date_range(schedule.first_day, schedule.last_day, language, this_year)}"
    start, end = schedule.start.astimezone(zone), schedule.end.astimezone(zone)
    if start.date() == end.date() or (end - start < timedelta(days=1) and end.time() == time(0)):
        slot = _slot(start.time(), end.time(), language)
        if language == "fr":
            return f"le {_full_date(start.date(), language, this_year)} {slot}"
        return f"{_full_date(start.date(), language, this_year)}, {slot}"
    if language == "fr":
        return (
            f"du {_full_date(start.date(), language, this_year)} à {_clock_fr(start.time())} "
            f"au {_full_date(end.date(), language, this_year)} à {_clock_fr(end.time())}"
        )
    return (
        f"from {_full_date(start.date(), language, this_year)}, {_clock_en(start.time())} "
        f"to {_full_date(end.date(), language, this_year)}, {_clock_en(end.time())}"
    )
