"""moment.js date formatting: the same format string gives the same text as moment.js.

metadata-action formats ``{{date 'YYYYMMDD'}}`` and ``type=schedule`` patterns with moment.js,
so the same format must give the same text here or nightly tags would differ between the two
tools. This module is that formatter and nothing else: the English locale's tokens (``YYYY``,
``Do``, ``ww``, ``LT`` ...), ``[literal]`` text and ``\\`` escapes, and moment's ISO 8601
output when no format is given. Time zones are the caller's: pass an aware ``datetime``
already converted to the zone to show.

``format_moment(moment, fmt) -> str``
    What ``moment.format(fmt)`` gives; characters that are no token are kept as they are.
``check_moment_format(fmt)``
    Raise ValueError for tokens moment.js renders but hoist does not (eras: ``N``, ``y``),
    so a format is refused when written rather than rendered differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.tags.templates import TemplateError

_MONTHS = (
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
)
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_LONG_FORMATS = {
    "LTS": "h:mm:ss A",
    "LT": "h:mm A",
    "LLLL": "dddd, MMMM D, YYYY h:mm A",
    "LLL": "MMMM D, YYYY h:mm A",
    "LL": "MMMM D, YYYY",
    "L": "MM/DD/YYYY",
    "llll": "ddd, MMM D, YYYY h:mm A",
    "lll": "MMM D, YYYY h:mm A",
    "ll": "MMM D, YYYY",
    "l": "M/D/YYYY",
}
_LONG_FORMAT_TOKEN = re.compile(r"(\[[^\[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})")
_FORMAT_TOKEN = re.compile(
    r"(\[[^\[]*\])|(\\)?([Hh]mm(?:ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?"
    r"|Qo?|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(?:ggg?)?|GG(?:GGG?)?|e|E|a|A|hh?|HH?"
    r"|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?|.)",
    re.S,
)
_UNSUPPORTED_TOKENS = re.compile(r"N{1,5}|y{2,4}|yo?")


def check_moment_format(fmt: str) -> None:
    """Refuse moment tokens hoist does not render (eras), instead of printing them raw.

    Raises ValueError naming the token; run it when a format is written (config load), so a
    format that would render wrong fails before anything is built.
    """
    for match in _FORMAT_TOKEN.finditer(_expand_long_formats(fmt)):
        token = match.group(3)
        if token and not match.group(2) and _UNSUPPORTED_TOKENS.fullmatch(token):
            raise ValueError(f"date token {token!r} is not supported (use YYYY for years)")


def format_moment(moment: datetime, fmt: str | None) -> str:
    """Render ``moment`` like moment.js ``format(fmt)`` does; no format gives ISO 8601."""
    if fmt is None:
        utc = moment.utcoffset() == timedelta(0)
        fmt = "YYYY-MM-DDTHH:mm:ss[Z]" if utc else "YYYY-MM-DDTHH:mm:ssZ"
    out: list[str] = []
    for match in _FORMAT_TOKEN.finditer(_expand_long_formats(fmt)):
        bracketed, escaped, token = match.groups()
        if bracketed:
            out.append(bracketed[1:-1])
        elif escaped or token not in _MOMENT_TOKENS:
            out.append(token)
        else:
            out.append(_MOMENT_TOKENS[token](moment))
    return "".join(out)


def _expand_long_formats(fmt: str) -> str:
    def expand(match: re.Match[str]) -> str:
        if match.group(1) or match.group(2):
            return match.group(0)
        return _LONG_FORMATS[match.group(3)]

    return _LONG_FORMAT_TOKEN.sub(expand, fmt)


def _ordinal(number: int) -> str:
    if (number % 100) // 10 == 1:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def _locale_week(day: date) -> tuple[int, int]:
    """moment's English week: starts on Sunday, week 1 is the one holding January 1st."""
    start = day - timedelta(days=(day.weekday() + 1) % 7)
    week_year = (start + timedelta(days=6)).year
    jan1 = date(week_year, 1, 1)
    first = jan1 - timedelta(days=(jan1.weekday() + 1) % 7)
    return week_year, (start - first).days // 7 + 1


def _offset(moment: datetime, separator: str) -> str:
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{separator}{mins:02d}"


def _fraction(digits: int) -> Callable[[datetime], str]:
    return lambda m: f"{m.microsecond // 1000:03d}{'0' * 6}"[:digits]


def _hour12(m: datetime) -> int:
    return m.hour % 12 or 12


_MOMENT_TOKENS: dict[str, Callable[[datetime], str]] = {
    "M": lambda m: str(m.month),
    "Mo": lambda m: _ordinal(m.month),
    "MM": lambda m: f"{m.month:02d}",
    "MMM": lambda m: _MONTHS[m.month - 1][:3],
    "MMMM": lambda m: _MONTHS[m.month - 1],
    "Q": lambda m: str((m.month - 1) // 3 + 1),
    "Qo": lambda m: _ordinal((m.month - 1) // 3 + 1),
    "D": lambda m: str(m.day),
    "Do": lambda m: _ordinal(m.day),
    "DD": lambda m: f"{m.day:02d}",
    "DDD": lambda m: str(m.timetuple().tm_yday),
    "DDDo": lambda m: _ordinal(m.timetuple().tm_yday),
    "DDDD": lambda m: f"{m.timetuple().tm_yday:03d}",
    "d": lambda m: str((m.weekday() + 1) % 7),
    "do": lambda m: _ordinal((m.weekday() + 1) % 7),
    "dd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7][:2],
    "ddd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7][:3],
    "dddd": lambda m: _WEEKDAYS[(m.weekday() + 1) % 7],
    "e": lambda m: str((m.weekday() + 1) % 7),
    "E": lambda m: str(m.isoweekday()),
    "w": lambda m: str(_locale_week(m.date())[1]),
    "wo": lambda m: _ordinal(_locale_week(m.date())[1]),
    "ww": lambda m: f"{_locale_week(m.date())[1]:02d}",
    "W": lambda m: str(m.isocalendar()[1]),
    "Wo": lambda m: _ordinal(m.isocalendar()[1]),
    "WW": lambda m: f"{m.isocalendar()[1]:02d}",
    "YY": lambda m: f"{m.year % 100:02d}",
    "YYYY": lambda m: f"{m.year:04d}",
    "YYYYY": lambda m: f"{m.year:05d}",
    "YYYYYY": lambda m: f"{'-' if m.year < 0 else '+'}{abs(m.year):06d}",
    "Y": lambda m: f"{m.year:04d}" if m.year <= 9999 else f"+{m.year}",
    "gg": lambda m: f"{_locale_week(m.date())[0] % 100:02d}",
    "gggg": lambda m: f"{_locale_week(m.date())[0]:04d}",
    "ggggg": lambda m: f"{_locale_week(m.date())[0]:05d}",
    "GG": lambda m: f"{m.isocalendar()[0] % 100:02d}",
    "GGGG": lambda m: f"{m.isocalendar()[0]:04d}",
    "GGGGG": lambda m: f"{m.isocalendar()[0]:05d}",
    "a": lambda m: "am" if m.hour < 12 else "pm",
    "A": lambda m: "AM" if m.hour < 12 else "PM",
    "H": lambda m: str(m.hour),
    "HH": lambda m: f"{m.hour:02d}",
    "h": lambda m: str(_hour12(m)),
    "hh": lambda m: f"{_hour12(m):02d}",
    "k": lambda m: str(m.hour or 24),
    "kk": lambda m: f"{m.hour or 24:02d}",
    "Hmm": lambda m: f"{m.hour}{m.minute:02d}",
    "Hmmss": lambda m: f"{m.hour}{m.minute:02d}{m.second:02d}",
    "hmm": lambda m: f"{_hour12(m)}{m.minute:02d}",
    "hmmss": lambda m: f"{_hour12(m)}{m.minute:02d}{m.second:02d}",
    "m": lambda m: str(m.minute),
    "mm": lambda m: f"{m.minute:02d}",
    "s": lambda m: str(m.second),
    "ss": lambda m: f"{m.second:02d}",
    **{"S" * n: _fraction(n) for n in range(1, 10)},
    "X": lambda m: str(int(m.timestamp())),
    "x": lambda m: str(int(m.timestamp() * 1000)),
    "Z": lambda m: _offset(m, ":"),
    "ZZ": lambda m: _offset(m, ""),
    "z": lambda m: m.tzname() or "",
    "zz": lambda m: m.tzname() or "",
}


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone of ``{{date ... tz='Zone'}}``; an unknown one fails the template."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(
            f"unknown time zone {name!r} (use an IANA name like 'Asia/Tokyo')"
        ) from None
