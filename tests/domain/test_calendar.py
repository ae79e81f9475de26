"""WorkCalendar: working days, office hours and due instants (RULES.md section 3).

Dates are the ones holidays>=0.109 publishes for Viet Nam; each due instant below was worked
out by hand from the 08:00-12:00 / 13:00-17:00 office hours.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onestop.calendar import UNITS, DayLine, DueExplanation, WorkCalendar

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PARIS = ZoneInfo("Europe/Paris")
LA = ZoneInfo("America/Los_Angeles")

VN = WorkCalendar.vietnam()


def at(y, m, d, h=8, mi=0, tz=HCM):
    return datetime(y, m, d, h, mi, tzinfo=tz)


def due(received, unit, amount, cutoff=None, cal=VN):
    return cal.due_at(received, unit, amount, cutoff)


# ---- the Vietnamese calendar as the package publishes it -------------------------------------


def test_tet_2026_is_16_to_20_february_between_two_ordinary_weekends():
    off = [date(2026, 2, d) for d in range(16, 21)]
    assert [VN.is_working_day(d) for d in off] == [False] * 5
    assert all("Tết" in VN.describe_day(d).reason for d in off)
    for d in (date(2026, 2, 14), date(2026, 2, 15), date(2026, 2, 21), date(2026, 2, 22)):
        info = VN.describe_day(d)
        assert (info.is_working, info.reason, info.kind) == (False, "weekend", "weekend")
    assert VN.is_working_day(date(2026, 2, 13)) and VN.is_working_day(date(2026, 2, 23))


def test_working_day_before_tet_lands_after_tet():
    # Fri 13/02 09:00: 7 h left on Friday, the 8th hour is Mon 23/02 08:00-09:00.
    assert due(at(2026, 2, 13, 9), "working_days", 1) == at(2026, 2, 23, 9)


def test_receipt_during_tet_counts_from_first_opening_after_it():
    e = VN.explain_due(at(2026, 2, 17, 10), "working_days", 3)
    assert e.counted_from == at(2026, 2, 23, 8)
    assert e.due_at == at(2026, 2, 25, 17)
    assert e.notes[0] == (
        "received on a non-working day (Tết Nguyên Đán): counted from 08:00 Monday 23/02/2026"
    )


def test_hung_kings_2026_sunday_with_monday_in_lieu():
    sunday, monday = VN.describe_day(date(2026, 4, 26)), VN.describe_day(date(2026, 4, 27))
    assert (sunday.is_working, sunday.kind) == (False, "holiday")
    assert sunday.reason == "Ngày Giỗ Tổ Hùng Vương (weekend)"
    assert (monday.is_working, monday.reason) == (False, "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)")
    # Fri 24/04 13:00: 4 h on Friday, 4 h on Tuesday 28/04 (Monday is the day in lieu).
    assert due(at(2026, 4, 24, 13), "working_days", 1) == at(2026, 4, 28, 12)


def test_reunification_and_labour_day_2026_skip_thursday_and_friday():
    assert not VN.is_working_day(date(2026, 4, 30)) and not VN.is_working_day(date(2026, 5, 1))
    assert due(at(2026, 4, 29, 8), "working_days", 2) == at(2026, 5, 4, 17)


def test_saturday_22_august_2026_is_worked_in_exchange_for_monday_31_august():
    sat = VN.describe_day(date(2026, 8, 22))
    assert (sat.is_working, sat.reason, sat.kind) == (
        True,
        "Saturday worked in exchange",
        "exchange_workday",
    )
    assert not VN.is_working_day(date(2026, 8, 23))
    mon = VN.describe_day(date(2026, 8, 31))
    assert (mon.is_working, mon.reason) == (False, "Ngày nghỉ (thay cho ngày 22/08/2026)")
    assert due(at(2026, 8, 21, 8), "working_days", 2) == at(2026, 8, 22, 17)


def test_national_day_2026_takes_1_and_2_september_not_3():
    assert VN.describe_day(date(2026, 9, 1)).reason == "Quốc khánh"
    assert not VN.is_working_day(date(2026, 9, 2))
    assert VN.is_working_day(date(2026, 9, 3))
    # Fri 28/08 then 31/08, 01/09 and 02/09 off: the second day is Thursday 03/09.
    assert due(at(2026, 8, 28, 8), "working_days", 2) == at(2026, 9, 3, 17)
    assert due(at(2026, 8, 28, 16), "working_days", 1) == at(2026, 9, 3, 16)


def test_vietnam_culture_day_24_november_2026_is_off():
    assert VN.describe_day(date(2026, 11, 24)).reason == "Ngày Văn hóa Việt Nam"
    assert due(at(2026, 11, 23, 13), "working_days", 1) == at(2026, 11, 25, 12)


def test_year_boundaries_skip_new_year_and_continue_in_the_next_year():
    assert due(at(2026, 12, 31, 14), "working_days", 1) == at(2027, 1, 4, 14)
    assert due(at(2026, 12, 30, 8), "working_days", 3) == at(2027, 1, 4, 17)
    assert due(at(2025, 12, 31, 10), "working_days", 1) == at(2026, 1, 2, 10)


def test_exchange_across_new_year_2019_saturday_5_january_pays_for_monday_31_december():
    cal = WorkCalendar.vietnam()  # fresh: its first table is 2018, the exchange is in 2019
    assert cal.due_at(at(2018, 12, 28, 8), "working_days", 2) == at(2019, 1, 2, 17)
    assert not cal.is_working_day(date(2018, 12, 31))
    assert cal.describe_day(date(2019, 1, 5)).reason == "Saturday worked in exchange"
    assert cal.due_at(at(2019, 1, 4, 13), "working_days", 1) == at(2019, 1, 5, 12)


def test_due_days_agree_with_holidays_get_nth_working_day():
    ref = holidays.country_holidays("VN", years=range(2025, 2028))
    day = date(2025, 1, 2)
    for _ in range(120):
        day = ref.get_nth_working_day(day + timedelta(days=5), 0)
        for n in (1, 3, 5, 10, 20):
            # Received at the opening, N days end at the close of the (N-1)th next working day.
            got = due(datetime.combine(day, time(8), HCM), "working_days", n)
            assert got == datetime.combine(ref.get_nth_working_day(day, n - 1), time(17), HCM)


# ---- office hours and receipt normalisation --------------------------------------------------


def test_lunch_receipt_counts_from_1300():
    assert VN.next_opening(at(2026, 3, 2, 12, 30)) == at(2026, 3, 2, 13)
    assert due(at(2026, 3, 2, 12, 30), "working_hours", 4) == at(2026, 3, 2, 17)


def test_after_hours_receipt_counts_from_next_morning():
    assert due(at(2026, 3, 2, 18), "working_hours", 2) == at(2026, 3, 3, 10)
    assert VN.next_opening(at(2026, 3, 2, 17)) == at(2026, 3, 3, 8)


def test_before_hours_receipt_counts_from_0800():
    assert due(at(2026, 3, 2, 7), "working_days", 1) == at(2026, 3, 2, 17)


def test_sunday_receipt_counts_from_monday_opening():
    assert due(at(2026, 3, 1, 10), "working_days", 1) == at(2026, 3, 2, 17)
    assert due(at(2026, 3, 1, 10), "same_day", 0) == at(2026, 3, 2, 17)


def test_zero_budget_is_due_at_the_normalised_receipt():
    assert due(at(2026, 3, 2, 18), "working_hours", 0) == at(2026, 3, 3, 8)
    assert due(at(2026, 3, 2, 9, 15), "working_days", 0) == at(2026, 3, 2, 9, 15)


def test_next_opening_treats_session_start_as_open_and_session_end_as_closed():
    assert VN.next_opening(at(2026, 3, 2, 8)) == at(2026, 3, 2, 8)
    assert VN.next_opening(at(2026, 3, 2, 12)) == at(2026, 3, 2, 13)
    assert VN.next_opening(at(2026, 2, 13, 17, 30)) == at(2026, 2, 23, 8)


def test_close_of_day_is_end_of_last_session_in_the_zone():
    closing = VN.close_of_day(date(2026, 3, 2))
    assert closing == at(2026, 3, 2, 17) and closing.tzinfo is HCM


# ---- budgets running out at session ends and fractional budgets ------------------------------


@pytest.mark.parametrize(
    ("start", "unit", "amount", "expected"),
    [
        (at(2026, 3, 2, 8), "working_days", 1, at(2026, 3, 2, 17)),
        (at(2026, 3, 2, 13), "working_hours", 4, at(2026, 3, 2, 17)),
        (at(2026, 3, 2, 8), "working_hours", 4, at(2026, 3, 2, 12)),
        (at(2026, 3, 2, 11), "working_hours", 1, at(2026, 3, 2, 12)),
        (at(2026, 3, 2, 11), "working_hours", 1.5, at(2026, 3, 2, 13, 30)),
        (at(2026, 3, 6, 8), "working_days", 1, at(2026, 3, 6, 17)),
    ],
)
def test_budget_ending_at_a_session_end_is_due_at_that_end(start, unit, amount, expected):
    assert due(start, unit, amount) == expected


def test_fractional_working_days():
    assert due(at(2026, 3, 2, 8), "working_days", 0.5) == at(2026, 3, 2, 12)
    assert due(at(2026, 3, 2, 10), "working_days", 0.5) == at(2026, 3, 2, 15)
    assert due(at(2026, 3, 2, 8), "working_days", 1.25) == at(2026, 3, 3, 10)


def test_add_working_hours_zero_returns_start_unchanged_even_after_hours():
    start = at(2026, 3, 2, 18)
    assert VN.add_working_hours(start, 0) == start
    utc = datetime(2026, 3, 2, 11, tzinfo=UTC)
    got = VN.add_working_hours(utc, 0)
    assert got == utc and got.tzinfo is HCM and got.hour == 18


def test_add_working_hours_eight_hours_from_monday_opening_is_monday_close():
    assert VN.add_working_hours(at(2026, 3, 2, 8), 8) == at(2026, 3, 2, 17)
    assert VN.add_working_hours(at(2026, 3, 2, 8), 8.01) == datetime(
        2026, 3, 3, 8, 0, 36, tzinfo=HCM
    )


def test_working_hours_between_counts_office_time_only_and_is_signed():
    assert VN.working_hours_between(at(2026, 3, 2, 8), at(2026, 3, 3, 8)) == 8.0
    assert VN.working_hours_between(at(2026, 3, 3, 8), at(2026, 3, 2, 8)) == -8.0
    assert VN.working_hours_between(at(2026, 3, 2, 11), at(2026, 3, 2, 14)) == 2.0
    assert VN.working_hours_between(at(2026, 2, 13, 8), at(2026, 2, 23, 8)) == 8.0


def test_working_days_between_lists_inclusive_working_dates():
    assert VN.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == [
        date(2026, 2, 13),
        date(2026, 2, 23),
        date(2026, 2, 24),
    ]
    assert VN.working_days_between(date(2026, 2, 24), date(2026, 2, 13)) == []


# ---- same_day and cut-offs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hh", "mm", "expected"),
    [(14, 59, at(2026, 3, 2, 17)), (15, 0, at(2026, 3, 2, 17)), (15, 1, at(2026, 3, 3, 17))],
)
def test_same_day_cutoff_counts_only_receipts_after_1500(hh, mm, expected):
    assert due(at(2026, 3, 2, hh, mm), "same_day", 0, cutoff=time(15)) == expected


def test_same_day_after_cutoff_on_friday_before_tet_is_due_after_tet():
    assert due(at(2026, 2, 13, 15, 30), "same_day", 0, cutoff=time(15)) == at(2026, 2, 23, 17)


def test_same_day_without_cutoff_and_after_close():
    assert due(at(2026, 3, 2, 16, 59), "same_day", 0) == at(2026, 3, 2, 17)
    assert due(at(2026, 3, 2, 17), "same_day", 0) == at(2026, 3, 3, 17)
    assert due(at(2026, 3, 2, 20), "same_day", 0, cutoff=time(15)) == at(2026, 3, 3, 17)


def test_same_day_rejects_non_zero_amount_and_cutoff_elsewhere():
    with pytest.raises(ValueError, match="amount 0"):
        due(at(2026, 3, 2, 9), "same_day", 1)
    with pytest.raises(ValueError, match="cut-off"):
        due(at(2026, 3, 2, 9), "working_days", 1, cutoff=time(15))
    with pytest.raises(ValueError, match="cut-off"):
        due(at(2026, 3, 2, 9), "calendar_days", 3, cutoff=time(15))


# ---- calendar_days ---------------------------------------------------------------------------


def test_calendar_days_landing_on_tet_moves_to_next_working_day():
    assert due(at(2026, 2, 9, 10), "calendar_days", 7) == at(2026, 2, 23, 17)


def test_calendar_days_landing_on_weekend_moves_to_monday():
    assert due(at(2026, 1, 5, 10), "calendar_days", 5) == at(2026, 1, 12, 17)
    assert due(at(2026, 1, 5, 10), "calendar_days", 2) == at(2026, 1, 7, 17)
    assert due(at(2026, 1, 5, 10), "calendar_days", 2.0) == at(2026, 1, 7, 17)


def test_calendar_days_count_from_the_normalised_receipt_date():
    # Saturday receipt counts from Monday 12/01: one calendar day later is Tuesday.
    assert due(at(2026, 1, 10, 10), "calendar_days", 1) == at(2026, 1, 13, 17)


@pytest.mark.parametrize("amount", [0, 1.5, -1])
def test_calendar_days_needs_a_whole_number_of_at_least_one(amount):
    with pytest.raises(ValueError):
        due(at(2026, 1, 5, 10), "calendar_days", amount)


# ---- time zones and bad input ----------------------------------------------------------------


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 3, 2, 9)
    for call in (
        lambda: VN.due_at(naive, "working_days", 1),
        lambda: VN.add_working_hours(naive, 1),
        lambda: VN.working_hours_between(naive, at(2026, 3, 3)),
        lambda: VN.next_opening(naive),
    ):
        with pytest.raises(ValueError, match="naive"):
            call()


def test_inputs_in_other_zones_are_converted_and_results_are_in_calendar_zone():
    utc_receipt = datetime(2026, 3, 2, 1, tzinfo=UTC)  # 08:00 in Ha Noi
    result = due(utc_receipt, "working_days", 1)
    assert result == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert result.tzinfo is HCM and (result.hour, result.minute) == (17, 0)
    paris = datetime(2026, 3, 2, 2, tzinfo=PARIS)  # 08:00 in Ha Noi (UTC+1 in winter)
    assert due(paris, "working_hours", 4) == at(2026, 3, 2, 12)


@pytest.mark.parametrize(
    ("unit", "amount"),
    [
        ("working_days", -1),
        ("working_hours", -0.5),
        ("working_days", math.nan),
        ("working_hours", math.inf),
        ("working_days", "1"),
        ("working_days", True),
    ],
)
def test_bad_amounts_are_refused(unit, amount):
    with pytest.raises(ValueError):
        due(at(2026, 3, 2, 9), unit, amount)


def test_bad_hours_are_refused():
    for hours in (-1, math.nan, math.inf):
        with pytest.raises(ValueError):
            VN.add_working_hours(at(2026, 3, 2, 9), hours)


def test_unknown_unit_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        due(at(2026, 3, 2, 9), "weeks", 1)
    assert all(unit in str(info.value) for unit in UNITS)


def test_unknown_country_subdivision_or_zone_is_a_value_error():
    with pytest.raises(ValueError, match="XX"):
        WorkCalendar(country="XX")
    with pytest.raises(ValueError, match="ZZ"):
        WorkCalendar(country="US", subdiv="ZZ")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        WorkCalendar(tz="Mars/Olympus")


@pytest.mark.parametrize(
    "office_hours",
    [
        (),
        ((8, 0, 12, 0), (11, 0, 17, 0)),
        ((13, 0, 17, 0), (8, 0, 12, 0)),
        ((12, 0, 8, 0),),
        ((8, 60, 12, 0),),
        ((25, 0, 26, 0),),
        ((8, 0, 12),),
        ("8-12",),
        ((8.5, 0, 12, 0),),
    ],
)
def test_bad_office_hours_are_refused(office_hours):
    with pytest.raises(ValueError):
        WorkCalendar(office_hours=office_hours)


def test_custom_office_hours_change_the_day_length():
    single = WorkCalendar.vietnam(office_hours=((7, 30, 16, 30),))
    assert single.hours_per_day == 9.0
    assert single.due_at(at(2026, 3, 2, 7, 30), "working_days", 1) == at(2026, 3, 2, 16, 30)
    three = WorkCalendar.vietnam(office_hours=((7, 0, 9, 0), (10, 0, 12, 0), (14, 0, 16, 0)))
    assert three.hours_per_day == 6.0
    assert three.add_working_hours(at(2026, 3, 2, 8), 2) == at(2026, 3, 2, 11)
    assert three.next_opening(at(2026, 3, 2, 12, 30)) == at(2026, 3, 2, 14)


# ---- other countries -------------------------------------------------------------------------


def test_france_bastille_day_is_not_a_working_day():
    fr = WorkCalendar(country="FR", tz="Europe/Paris")
    assert not fr.is_working_day(date(2026, 7, 14))
    assert fr.describe_day(date(2026, 7, 14)).kind == "holiday"
    result = fr.due_at(datetime(2026, 7, 13, 8, tzinfo=PARIS), "working_days", 2)
    assert result == datetime(2026, 7, 15, 17, tzinfo=PARIS)
    assert result.utcoffset() == timedelta(hours=2)


def test_us_california_state_holiday_and_dst_change():
    ca = WorkCalendar(country="US", subdiv="CA", tz="America/Los_Angeles")
    assert ca.describe_day(date(2026, 3, 31)).reason == "Cesar Chavez Day"
    # Friday 16:00 PST + 2 h: one hour Friday, one hour Monday after the clocks went forward.
    result = ca.add_working_hours(datetime(2026, 3, 6, 16, tzinfo=LA), 2)
    assert (result.date(), result.hour) == (date(2026, 3, 9), 9)
    assert result.utcoffset() == timedelta(hours=-7)
    assert ca.working_hours_between(datetime(2026, 3, 6, 16, tzinfo=LA), result) == 2.0


# ---- days announced late by administrators ---------------------------------------------------


def test_extra_day_off_with_reference_shifts_due_and_is_explained():
    ref = "Thông báo 123/TB-UBND"
    cal = WorkCalendar.vietnam(extra_days_off=[(date(2026, 1, 2), ref)])
    info = cal.describe_day(date(2026, 1, 2))
    assert (info.is_working, info.reason, info.reference) == (False, f"extra day off: {ref}", ref)
    assert cal.due_at(at(2025, 12, 31, 10), "working_days", 1) == at(2026, 1, 5, 10)
    e = cal.explain_due(at(2025, 12, 31, 10), "working_days", 1)
    assert DayLine(date(2026, 1, 2), 0.0, True, f"extra day off: {ref}") in e.days
    assert f"02/01/2026 not counted: extra day off: {ref}" in e.notes


def test_extra_working_day_with_reference_is_counted():
    ref = "Quyết định 45/QĐ-UBND"
    cal = WorkCalendar.vietnam(
        extra_working_days=[(date(2026, 1, 10), ref)], extra_days_off=[date(2026, 1, 9)]
    )
    assert cal.describe_day(date(2026, 1, 10)).reason == f"extra working day: {ref}"
    assert cal.describe_day(date(2026, 1, 9)).reason == "extra day off"
    # Thu 08/01 13:00: 4 h Thursday, Friday off, 4 h on the extra working Saturday.
    assert cal.due_at(at(2026, 1, 8, 13), "working_days", 1) == at(2026, 1, 10, 12)


def test_extra_days_must_be_dates_and_not_both_off_and_working():
    with pytest.raises(ValueError, match="both"):
        WorkCalendar.vietnam(
            extra_days_off=[date(2026, 1, 9)], extra_working_days=[(date(2026, 1, 9), "x")]
        )
    with pytest.raises(ValueError):
        WorkCalendar.vietnam(extra_days_off=["2026-01-09"])
    with pytest.raises(ValueError):
        WorkCalendar.vietnam(extra_days_off=[(date(2026, 1, 9), "a", "b")])


# ---- any year, in any order ------------------------------------------------------------------


def test_far_years_work_whichever_is_asked_first():
    forward, backward = WorkCalendar.vietnam(), WorkCalendar.vietnam()
    queries = [(at(1990, 12, 31, 14), 1), (at(2090, 12, 29, 9), 3), (at(2026, 2, 13, 9), 1)]
    a = [forward.due_at(r, "working_days", n) for r, n in queries]
    b = [backward.due_at(r, "working_days", n) for r, n in reversed(queries)][::-1]
    assert a == b
    assert a[0] == at(1991, 1, 2, 14)  # 01/01/1991 is New Year's Day
    assert a[2] == at(2026, 2, 23, 9)
    span = forward.working_hours_between(at(2026, 1, 1), at(2027, 1, 1))
    assert span == 8.0 * len(forward.working_days_between(date(2026, 1, 1), date(2026, 12, 31)))


# ---- explanations ----------------------------------------------------------------------------


def test_explanation_covers_every_day_and_counts_the_budget():
    e = VN.explain_due(at(2026, 2, 13, 9), "working_days", 2)
    assert isinstance(e, DueExplanation)
    assert [line.day for line in e.days] == [
        date(2026, 2, 13) + timedelta(days=i) for i in range(12)
    ]
    assert sum(line.counted_hours for line in e.days) == 16.0
    assert e.days[0] == DayLine(date(2026, 2, 13), 7.0, False, "working day")
    assert e.days[3] == DayLine(date(2026, 2, 16), 0.0, True, "Giao thừa Tết Nguyên Đán")
    assert e.days[-1] == DayLine(date(2026, 2, 24), 1.0, False, "working day")
    assert e.due_at == at(2026, 2, 24, 9)


def test_explanation_marks_exchange_saturday_as_worked():
    e = VN.explain_due(at(2026, 8, 21, 8), "working_days", 2)
    assert e.days[-1] == DayLine(date(2026, 8, 22), 8.0, False, "Saturday worked in exchange")
    assert "22/08/2026 counted: Saturday worked in exchange" in e.notes


def test_explanation_notes_after_hours_receipt_and_cutoff():
    late = VN.explain_due(at(2026, 3, 2, 18), "working_hours", 2)
    assert late.notes[0] == "received outside office hours: counted from 08:00 Tuesday 03/03/2026"
    assert late.days[0] == DayLine(date(2026, 3, 2), 0.0, True, "received after closing time")
    cut = VN.explain_due(at(2026, 3, 2, 15, 30), "same_day", 0, cutoff=time(15))
    assert "received after the 15:00 cut-off: due the next working day" in cut.notes
    assert cut.due_at == at(2026, 3, 3, 17)


def test_explanation_of_calendar_days_names_the_day_passed_over():
    e = VN.explain_due(at(2026, 2, 9, 10), "calendar_days", 7)
    assert (
        "Monday 16/02/2026 is not a working day (Giao thừa Tết Nguyên Đán): due at the close of "
        "the next working day, Monday 23/02/2026" in e.notes
    )
    assert e.days[5] == DayLine(date(2026, 2, 14), 0.0, False, "weekend (counts as a calendar day)")
    assert e.days[8].skipped and e.days[8].day == date(2026, 2, 17)


def test_explanation_to_dict_is_json_with_iso_strings():
    data = VN.explain_due(at(2026, 3, 2, 15, 30), "same_day", 0, cutoff=time(15)).to_dict()
    again = json.loads(json.dumps(data, ensure_ascii=False))
    assert again["received_at"] == "2026-03-02T15:30:00+07:00"
    assert again["due_at"] == "2026-03-03T17:00:00+07:00"
    assert again["cutoff"] == "15:00:00"
    assert again["days"][0] == {
        "day": "2026-03-02",
        "counted_hours": 1.5,
        "skipped": False,
        "reason": "working day",
    }


# ---- properties ------------------------------------------------------------------------------

receipts = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59),
    timezones=st.sampled_from([HCM, UTC, PARIS]),
)
hundredths = st.integers(min_value=0, max_value=40_000).map(lambda x: x / 100)
PROPERTY = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _in_office_hours(cal: WorkCalendar, instant: datetime) -> bool:
    local = instant.astimezone(HCM)
    minutes = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    sessions = [(h1 * 60 + m1, h2 * 60 + m2) for h1, m1, h2, m2 in cal.office_hours]
    return cal.is_working_day(local.date()) and any(a <= minutes <= b for a, b in sessions)


@PROPERTY
@given(receipts, hundredths)
def test_property_due_is_in_office_hours_and_spends_exactly_the_budget(received, hours):
    result = VN.due_at(received, "working_hours", hours)
    assert result.tzinfo is HCM
    assert _in_office_hours(VN, result)
    assert result >= received
    assert VN.working_hours_between(received, result) == pytest.approx(hours, abs=1e-6)
    # Integer microseconds inside: two-decimal budgets round-trip exactly.
    assert VN.working_hours_between(received, VN.add_working_hours(received, hours)) == hours


@PROPERTY
@given(receipts, hundredths, hundredths)
def test_property_add_working_hours_is_monotonic_and_earliest(start, h1, h2):
    lo, hi = sorted((h1, h2))
    a, b = VN.add_working_hours(start, lo), VN.add_working_hours(start, hi)
    assert a <= b
    if hi > 0:
        # One microsecond earlier the budget has not run out yet.
        assert VN.working_hours_between(start, b - timedelta(microseconds=1)) < hi
