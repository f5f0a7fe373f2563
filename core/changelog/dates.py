"""Calendar dates as changelog authors write them.

A header may say ``2024-01-31``, ``2016/2/22 11:02 +07:00``, ``2026.03.06``, ``29.11.2017``, ``29-08-2016``,
``March 3, 2019``, ``March 15th, 2021``, ``3 Mar 2019``, ``21st February, 2024``, ``February, 24 2019``,
``16 Jun, 2016``, ``19 March 98``, ``Wed Jan 31 12:00:00 2024`` (ctime, as Perl ``Changes`` files write it) or
``2024年1月31日``. Every form is one alternative of one compiled pattern, so a header is
scanned once. Dates are calendar dates as written: a time or a UTC offset after them is ignored, never applied.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"

DATE_RE = re.compile(
    rf"""
    (?<![\w.])
    (?:
        (?P<iy>\d{{4}})(?P<isep>[-/.])(?P<im>\d{{1,2}})(?P=isep)(?P<id>\d{{1,2}})(?![\d.]\d)
      | (?P<ed>\d{{1,2}})(?P<esep>[-/.])(?P<em>\d{{1,2}})(?P=esep)(?P<ey>\d{{4}})(?!\d)
      | (?P<md_m>{_MONTH})\s+(?P<md_d>{_DAY}),?\s+(?P<md_y>\d{{4}})(?!\d)
      | (?P<dm_d>{_DAY})(?:\s+of)?[\s-]+(?P<dm_m>{_MONTH}),?[\s-]+(?P<dm_y>\d{{4}}|\d{{2}})(?!\d)
      | (?P<mcd_m>{_MONTH}),\s*(?P<mcd_d>{_DAY}),?\s+(?P<mcd_y>\d{{4}})(?!\d)
      | (?P<ct_m>{_MONTH})\s+(?P<ct_d>{_DAY})\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s+
        (?:[A-Z]{{3,5}}\s+)?(?P<ct_y>\d{{4}})(?!\d)
      | (?P<cjk_y>\d{{4}})\s*年\s*(?P<cjk_m>\d{{1,2}})\s*月\s*(?P<cjk_d>\d{{1,2}})\s*日?
    )
    (?=$|[^\w]|T\d)  # "2024-01-31T10:00": a time may follow, glued with a T
    """,
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date-shaped span of text; ``date`` is None when it names no real day (``2014.07.32``)."""

    start: int
    end: int
    date: dt.date | None


def _day(text: str) -> int:
    return int(text.rstrip("stndrhSTNDRH"))


def _year(text: str) -> int:
    if len(text) == 2:
        # Two-digit years follow strptime's %y pivot: 69-99 are 19xx, 00-68 are 20xx.
        value = int(text)
        return value + (1900 if value >= 69 else 2000)
    return int(text)


def _make(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _from_match(m: re.Match[str]) -> dt.date | None:
    if m["iy"]:
        return _make(int(m["iy"]), int(m["im"]), int(m["id"]))
    if m["ey"]:
        first, second = int(m["ed"]), int(m["em"])
        if m["esep"] == "/" and second > 12 >= first:
            # Slashes with a day second are US dates (12/31/2024); dots and dashes are day-first.
            first, second = second, first
        return _make(int(m["ey"]), second, first)
    if m["md_m"]:
        return _make(_year(m["md_y"]), _MONTHS[m["md_m"][:3].lower()], _day(m["md_d"]))
    if m["dm_m"]:
        return _make(_year(m["dm_y"]), _MONTHS[m["dm_m"][:3].lower()], _day(m["dm_d"]))
    if m["mcd_m"]:
        return _make(int(m["mcd_y"]), _MONTHS[m["mcd_m"][:3].lower()], _day(m["mcd_d"]))
    if m["ct_m"]:
        return _make(int(m["ct_y"]), _MONTHS[m["ct_m"][:3].lower()], _day(m["ct_d"]))
    return _make(int(m["cjk_y"]), int(m["cjk_m"]), int(m["cjk_d"]))


def iter_dates(text: str) -> Iterator[DateMatch]:
    """Every date-shaped span in ``text``, left to right, real or not."""
    for m in DATE_RE.finditer(text):
        yield DateMatch(m.start(), m.end(), _from_match(m))


def find_date(text: str) -> dt.date | None:
    """The first real calendar date written in ``text``, or None."""
    for found in iter_dates(text):
        if found.date is not None:
            return found.date
    return None
