"""DATE normalisation: a date or period text → (start, end) ISO dates against a reference date.

Conventions (a finance assistant mostly asks about the past):
- a date without a year ("12 March", "October", "Friday") is the latest one on or before the
  reference date; "last/next <weekday>" is the nearest one strictly before/after it;
- "this/last/next week|month|quarter|year" are calendar periods (weeks start on Monday);
  "FY" and "financial year" are Indian financial years (April to March);
- "last N days/weeks/months" is the rolling window ending on the reference date;
- numeric dates are day-first ("03/04/2025" is 3 April) unless that cannot be a date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

MONTHS = {name: i for i, name in enumerate(calendar.month_name) if name}
MONTHS = {k.lower(): v for k, v in MONTHS.items()}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())} | {"sept": 9})
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "few": 3,
          "couple": 2}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}

Period = tuple[date, date]
MONTH_RE = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DAY_RE = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
YEAR_RE = r"(?P<year>(?:19|20)\d{2})"


def month_span(year: int, month: int) -> Period:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def shift_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def quarter_span(year: int, quarter: int) -> Period:
    start, _ = month_span(year, 3 * quarter - 2)
    return start, month_span(year, 3 * quarter)[1]


def financial_year_span(start_year: int) -> Period:
    """Indian FY: 1 April of start_year to 31 March of the next year."""
    return date(start_year, 4, 1), date(start_year + 1, 3, 31)


def fy_quarter_span(start_year: int, quarter: int) -> Period:
    """Quarter 1 of an Indian FY is April–June of its first year."""
    year, month = shift_months(start_year, 4, 3 * (quarter - 1))
    start, _ = month_span(year, month)
    return start, month_span(*shift_months(year, month, 2))[1]


def financial_year_of(day: date) -> int:
    return day.year if day.month >= 4 else day.year - 1


def safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def full_year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def latest_month(month: int, ref: date) -> int:
    """The year of the latest `month` on or before the reference month."""
    return ref.year if month <= ref.month else ref.year - 1


def _numeric(text: str, ref: date) -> Period | None:
    iso = re.fullmatch(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})", text)
    if iso:
        day = safe_date(int(iso[1]), int(iso[2]), int(iso[3]))
        return (day, day) if day else None
    dmy = re.fullmatch(r"(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{2}|\d{4})", text)
    if dmy:
        first, second, year = int(dmy[1]), int(dmy[2]), full_year(dmy[3])
        day = safe_date(year, second, first) or safe_date(year, first, second)
        return (day, day) if day else None
    return None


def _named_month(text: str, ref: date) -> Period | None:
    patterns = [
        rf"{DAY_RE}\s*(?:of\s+)?{MONTH_RE}\s*,?\s*{YEAR_RE}?",
        rf"{MONTH_RE}\s*{DAY_RE}\s*,?\s*{YEAR_RE}?",
        rf"{MONTH_RE}\s*(?:of\s+)?,?\s*{YEAR_RE}?",
    ]
    for pattern in patterns:
        match = re.fullmatch(pattern, text)
        if not match:
            continue
        parts = match.groupdict()
        month = MONTHS[parts["month"]]
        year = int(parts["year"]) if parts.get("year") else latest_month(month, ref)
        if not parts.get("day"):
            return month_span(year, month)
        day = safe_date(year, month, int(parts["day"]))
        if day and not parts.get("year") and day > ref:
            day = safe_date(year - 1, month, int(parts["day"]))
        return (day, day) if day else None
    return None


def _single_words(text: str, ref: date) -> Period | None:
    offsets = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1,
               "day before yesterday": -2, "day after tomorrow": 2, "last night": -1,
               "this morning": 0, "this afternoon": 0, "this evening": 0}
    if text in offsets:
        day = ref + timedelta(days=offsets[text])
        return day, day
    ordinal = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)", text)
    if ordinal:  # "on the 5th": the latest 5th on or before the reference date
        year, month = ref.year, ref.month
        for _ in range(3):
            day = safe_date(year, month, int(ordinal[1]))
            if day and day <= ref:
                return day, day
            year, month = shift_months(year, month, -1)
        return None
    if text in WEEKDAYS:
        day = ref - timedelta(days=(ref.weekday() - WEEKDAYS[text]) % 7)
        return day, day
    return None


def _calendar_period(kind: str, ref: date, delta: int) -> Period | None:
    if kind == "week":
        monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=delta)
        return monday, monday + timedelta(days=6)
    if kind == "weekend":
        saturday = ref - timedelta(days=ref.weekday()) + timedelta(days=5, weeks=delta)
        return saturday, saturday + timedelta(days=1)
    if kind == "fortnight":
        end = ref if delta == 0 else ref + timedelta(days=14 * delta)
        return (end - timedelta(days=13), end) if delta <= 0 else (ref + timedelta(1), end)
    if kind == "month":
        return month_span(*shift_months(ref.year, ref.month, delta))
    if kind == "quarter":
        index = ref.year * 4 + (ref.month - 1) // 3 + delta
        return quarter_span(index // 4, index % 4 + 1)
    if kind == "year":
        return date(ref.year + delta, 1, 1), date(ref.year + delta, 12, 31)
    if kind in ("fy", "financial year", "fiscal year"):
        return financial_year_span(financial_year_of(ref) + delta)
    return None


def _relative(text: str, ref: date) -> Period | None:
    match = re.fullmatch(r"(last|previous|past|this|current|next|coming)\s+(.+)", text)
    if not match:
        return None
    direction, what = match[1], match[2]
    delta = {"last": -1, "previous": -1, "past": -1, "next": 1, "coming": 1}.get(direction, 0)
    window = re.fullmatch(r"(\d+|[a-z]+)\s+(day|week|month|year|quarter)s?", what)
    if window and delta and (window[1].isdigit() or window[1] in COUNTS):
        count = int(window[1]) if window[1].isdigit() else COUNTS[window[1]]
        return _rolling_window(window[2], count, ref, delta)
    if what in WEEKDAYS:
        return _weekday(WEEKDAYS[what], ref, delta)
    if what in MONTHS:
        month = MONTHS[what]
        year = ref.year
        if delta < 0:
            year = ref.year if month < ref.month else ref.year - 1
        elif delta > 0:
            year = ref.year if month > ref.month else ref.year + 1
        return month_span(year, month)
    return _calendar_period(what, ref, delta)


def _rolling_window(unit: str, count: int, ref: date, delta: int) -> Period:
    days = {"day": 1, "week": 7}.get(unit)
    if days:
        span = timedelta(days=days * count)
        one = timedelta(days=1)
        return (ref - span + one, ref) if delta < 0 else (ref, ref + span - one)
    months = count * {"month": 1, "quarter": 3, "year": 12}[unit]
    year, month = shift_months(ref.year, ref.month, -months if delta < 0 else months)
    other = safe_date(year, month, min(ref.day, calendar.monthrange(year, month)[1]))
    return (other + timedelta(days=1), ref) if delta < 0 else (ref, other - timedelta(days=1))


def _weekday(target: int, ref: date, delta: int) -> Period:
    if delta < 0:
        day = ref - timedelta(days=(ref.weekday() - target - 1) % 7 + 1)
    elif delta > 0:
        day = ref + timedelta(days=(target - ref.weekday() - 1) % 7 + 1)
    else:
        day = ref - timedelta(days=ref.weekday()) + timedelta(days=target)
    return day, day


def _ago(text: str, ref: date) -> Period | None:
    match = re.fullmatch(r"(\d+|[a-z]+)\s+(day|week|month|year)s?\s+ago", text)
    if not match or not (match[1].isdigit() or match[1] in COUNTS):
        return None
    count = int(match[1]) if match[1].isdigit() else COUNTS[match[1]]
    if match[2] in ("day", "week"):
        day = ref - timedelta(days=count * (7 if match[2] == "week" else 1))
        return day, day
    year, month = shift_months(ref.year, ref.month, -count * (12 if match[2] == "year" else 1))
    day = date(year, month, min(ref.day, calendar.monthrange(year, month)[1]))
    return day, day


def _fiscal(text: str, ref: date) -> Period | None:
    quarter = re.fullmatch(r"q([1-4])(?:\s*(?:fy\s*)?'?(\d{2}|\d{4}))?", text)
    if quarter:
        number = int(quarter[1])
        if "fy" in text:
            start = full_year(quarter[2]) - (1 if len(quarter[2]) == 2 else 0)
            return fy_quarter_span(start, number)
        year = full_year(quarter[2]) if quarter[2] else ref.year
        return quarter_span(year, number)
    fy = re.fullmatch(r"fy\s*'?(\d{2}|\d{4})(?:\s*-\s*(\d{2}|\d{4}))?", text)
    if fy:
        first = full_year(fy[1])
        start = first if fy[2] else (first - 1 if len(fy[1]) == 2 else first)
        return financial_year_span(start)
    ordinal = re.fullmatch(r"(first|second|third|fourth)\s*-?\s*quarter\s+(?:of\s+)?(\d{4})", text)
    if ordinal:
        return quarter_span(int(ordinal[2]), ORDINALS[ordinal[1]])
    year = re.fullmatch(r"(?:(?:fiscal|financial|calendar)\s+)?(?:year\s+)?((?:19|20)\d{2})", text)
    if year:
        return date(int(year[1]), 1, 1), date(int(year[1]), 12, 31)
    years = re.fullmatch(r"((?:19|20)\d{2})\s*-\s*(\d{2}|\d{4})", text)
    if years:
        end = full_year(years[2]) if len(years[2]) == 4 else int(years[1][:2] + years[2])
        return date(int(years[1]), 1, 1), date(end, 12, 31)
    return None


def _ended(text: str, ref: date) -> Period | None:
    """"year ended December 31, 2012" is the twelve months up to that date."""
    match = re.fullmatch(r"(?:fiscal\s+)?(year|quarter|month)s?\s+ended\s+(.+)", text)
    if not match:
        return None
    inner = resolve(match[2], ref)
    if not inner:
        return None
    months = {"year": 12, "quarter": 3, "month": 1}[match[1]]
    end = inner[1]
    year, month = shift_months(end.year, end.month, -months)
    start = date(year, month, min(end.day, calendar.monthrange(year, month)[1])) + timedelta(1)
    return start, end


RESOLVERS: list[Callable[[str, date], Period | None]] = [
    _single_words, _numeric, _named_month, _relative, _ago, _fiscal, _ended,
]


def clean(text: str) -> str:
    text = text.lower().strip().replace("\u2019", "'")
    text = re.sub(r"^(?:on|in|during|since|by|for|the)\s+", "", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    return re.sub(r"\s+", " ", text).rstrip(".,")


def resolve(text: str, ref: date) -> Period | None:
    """The period `text` names relative to `ref`; None when it names none, or one that falls
    outside the calendar (year 1 to 9999: "tomorrow" of 9999-12-31)."""
    text = clean(text)
    text = re.sub(r"^(early|mid|late)\s*-?\s*", "", text)
    for resolver in RESOLVERS:
        try:
            period = resolver(text, ref)
        except (OverflowError, ValueError):
            return None
        if period:
            return period
    return None


def normalise_date(text: str, ref: date) -> dict[str, str] | None:
    period = resolve(text, ref)
    if period is None:
        return None
    return {"start": period[0].isoformat(), "end": period[1].isoformat()}
