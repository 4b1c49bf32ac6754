"""Period: ISO 8601 date durations and the guidance's words, and calendar arithmetic that never loses a day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.errors import StrongroomError
from strongroom.records.model import Period

periods = st.builds(
    Period,
    years=st.integers(0, 120),
    months=st.integers(0, 30),
    weeks=st.integers(0, 60),
    days=st.integers(0, 400),
)
days = st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31))


@given(periods)
def test_iso_text_parses_back_to_the_same_period(period: Period) -> None:
    assert Period.parse(period.iso()) == period


@given(periods, days)
def test_adding_never_goes_back_in_time(period: Period, day: date) -> None:
    assert period.add_to(day) >= day


@given(periods, days, days)
def test_adding_keeps_the_order_of_days(period: Period, a: date, b: date) -> None:
    first, second = sorted((a, b))
    assert period.add_to(first) <= period.add_to(second)


@given(st.integers(0, 120), days)
def test_years_are_twelve_months(years: int, day: date) -> None:
    assert Period(years=years).add_to(day) == Period(months=12 * years).add_to(day)


@given(st.integers(0, 200), st.integers(0, 400), days)
def test_weeks_and_days_are_exact_day_counts(weeks: int, extra: int, day: date) -> None:
    assert Period(weeks=weeks, days=extra).add_to(day) == day + timedelta(days=7 * weeks + extra)


@given(st.integers(0, 50), st.integers(0, 50), days.filter(lambda d: d.day <= 28))
def test_years_add_up_for_days_every_month_has(a: int, b: int, day: date) -> None:
    assert Period(years=b).add_to(Period(years=a).add_to(day)) == Period(years=a + b).add_to(day)


@given(periods.filter(lambda p: p.years or p.months), days)
def test_a_month_end_that_does_not_exist_falls_back_within_the_month(period: Period, day: date) -> None:
    moved = Period(years=period.years, months=period.months).add_to(day)
    assert moved.day <= day.day
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == 12 * period.years + period.months


@pytest.mark.parametrize(
    ("start", "period", "expected"),
    [
        (date(2020, 2, 29), Period(years=1), date(2021, 2, 28)),
        (date(2020, 2, 29), Period(years=4), date(2024, 2, 29)),
        (date(2021, 1, 31), Period(months=1), date(2021, 2, 28)),
        (date(2021, 8, 31), Period(months=18), date(2023, 2, 28)),
        (date(2019, 12, 31), Period(years=6), date(2025, 12, 31)),
        (date(2021, 3, 15), Period(years=1, months=6, weeks=2, days=3), date(2022, 10, 2)),
    ],
)
def test_calendar_arithmetic(start: date, period: Period, expected: date) -> None:
    assert period.add_to(start) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P6Y", Period(years=6)),
        ("p18m", Period(months=18)),
        ("P1Y6M", Period(years=1, months=6)),
        ("P2W", Period(weeks=2)),
        ("P30D", Period(days=30)),
        ("6 years", Period(years=6)),
        ("1 year", Period(years=1)),
        ("18 Months", Period(months=18)),
        ("6 years 3 months", Period(years=6, months=3)),
        ("6 years and 3 months", Period(years=6, months=3)),
        (" 2 weeks ", Period(weeks=2)),
    ],
)
def test_parse(text: str, expected: Period) -> None:
    assert Period.parse(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT5M", "P1DT2H", "6 yeers", "six years", "P-1Y", "6", "years"])
def test_not_periods_are_refused_with_the_forms_that_are(text: str) -> None:
    with pytest.raises(StrongroomError) as caught:
        Period.parse(text)
    assert "P6Y" in caught.value.message
