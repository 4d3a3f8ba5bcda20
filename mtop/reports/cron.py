"""Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC.

Supports ``*``, ``a-b``, ``*/n``, ``a-b/n``, ``a/n``, lists, month and weekday names (``jan``, ``mon``), ``7`` as
Sunday, and the macros ``@yearly``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``. As in
Vixie cron, when both day fields are restricted a day matches if *either* matches.

>>> expr = parse_cron("30 6 * * mon-fri")
>>> from datetime import UTC, datetime
>>> expr.latest(datetime(2026, 11, 29, 12, 0, tzinfo=UTC)).isoformat()   # a Sunday: the last run was Friday
'2026-11-27T06:30:00+00:00'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["CronExpression", "parse_cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names mapped to numbers)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)
_SEARCH_DAYS = 366 * 8  # Feb 29 on a given weekday recurs within 28 years, but nobody schedules that


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the allowed values of each field.

    >>> parse_cron("@hourly").minutes, len(parse_cron("@hourly").hours)
    (frozenset({0}), 24)
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, day: date) -> bool:
        """Whether the expression fires on ``day`` (at some hour and minute).

        >>> parse_cron("0 0 13 * fri").matches_day(date(2026, 11, 20))   # a Friday: either field matches
        True
        """
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def matches(self, when: datetime) -> bool:
        """Whether the expression fires at ``when``'s minute (UTC).

        >>> parse_cron("*/15 * * * *").matches(datetime(2026, 1, 1, 3, 45, tzinfo=UTC))
        True
        """
        when = _utc(when)
        return when.minute in self.minutes and when.hour in self.hours and self.matches_day(when.date())

    def latest(self, now: datetime) -> datetime | None:
        """The most recent firing time at or before ``now`` (UTC), or None within eight years.

        >>> parse_cron("0 6 * * *").latest(datetime(2026, 1, 2, 5, 59, tzinfo=UTC)).isoformat()
        '2026-01-01T06:00:00+00:00'
        """
        now = _utc(now).replace(second=0, microsecond=0)
        day = now.date()
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                limit = now.time() if day == now.date() else time(23, 59)
                best = max(
                    ((h, m) for h in self.hours for m in self.minutes if (h, m) <= (limit.hour, limit.minute)),
                    default=None,
                )
                if best is not None:
                    return datetime.combine(day, time(*best), tzinfo=UTC)
            day -= timedelta(days=1)
        return None

    def next_after(self, now: datetime) -> datetime | None:
        """The first firing time strictly after ``now`` (UTC), or None within eight years.

        >>> parse_cron("0 6 * * *").next_after(datetime(2026, 1, 1, 6, 0, tzinfo=UTC)).isoformat()
        '2026-01-02T06:00:00+00:00'
        """
        now = _utc(now).replace(second=0, microsecond=0)
        day = now.date()
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                after = (now.hour, now.minute) if day == now.date() else (-1, -1)
                best = min(((h, m) for h in self.hours for m in self.minutes if (h, m) > after), default=None)
                if best is not None:
                    return datetime.combine(day, time(*best), tzinfo=UTC)
            day += timedelta(days=1)
        return None


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"cron times must be timezone-aware, got {when.isoformat()}")
    return when.astimezone(UTC)


def _number(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{field}: {text!r} is not a number{' or a name' if names else ''}")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{field}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"{field}: step {step_text!r} must be a whole number >= 1")
            step = int(step_text)
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _number(a, field, low, high, names), _number(b, field, low, high, names)
            if first > last:
                raise ValueError(f"{field}: range {base!r} runs backwards")
        else:
            first = _number(base, field, low, high, names)
            last = high if step_text else first  # "5/15" means 5, 20, 35, 50
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(text: str) -> CronExpression:
    """Parse a cron expression; ``ValueError`` names the bad field.

    >>> sorted(parse_cron("0 9-17/4 * * *").hours)
    [9, 13, 17]
    >>> parse_cron("61 * * * *")
    Traceback (most recent call last):
    ...
    ValueError: minute: 61 is outside 0-59
    """
    expanded = _MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday) or a macro, got {text!r}")
    sets = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])  # 7 is Sunday too
    return CronExpression(
        text=text.strip(),
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=weekdays,
        # Vixie cron: a day field starting with "*" (even "*/2") does not restrict, so the other one decides.
        days_restricted=not parts[2].startswith(("*", "?")),
        weekdays_restricted=not parts[4].startswith(("*", "?")),
    )
