"""Business days (開庁日) for processing deadlines: no weekends, national holidays or 年末年始.

National holidays come from ``jpholiday`` (maintained against the 国民の祝日に関する法律 and the
one-off holidays proclaimed by law, e.g. 2019-05-01 即位の日 and 2019-10-22 即位礼正殿の儀), because
a deadline is a promise to the resident and the calendar is decided outside this project. The
municipality's own closing days (年末年始, 12/29–1/3) are added here.
"""

from __future__ import annotations

import datetime as dt

import jpholiday


def national_holidays(year: int) -> frozenset[dt.date]:
    """Japanese national holidays of ``year`` (振替休日 and 国民の休日 included)."""
    return frozenset(day for day, _name in jpholiday.year_holidays(year))


def is_closing_day(day: dt.date) -> bool:
    """The municipal office's own closing days: 年末年始 (12/29–1/3)."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: dt.date) -> bool:
    """Whether the municipal office is open: not a weekend, national holiday or 12/29–1/3."""
    if day.weekday() >= 5 or is_closing_day(day):
        return False
    return not jpholiday.is_holiday(day)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` business days after ``start`` (``start`` itself when ``days`` is 0).

    A ``start`` outside office hours counts from the next business day, as an application
    received on a Sunday is taken in on Monday.
    """
    current = start
    while not is_business_day(current):
        current += dt.timedelta(days=1)
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current
