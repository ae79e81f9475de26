"""Working calendar and due-instant arithmetic (RULES.md section 3).

Everything here is plain stdlib plus the ``holidays`` package, so the web app, the flows and
the CLI can all share one calendar.

How it works: every local instant is mapped to a *working position*, the number of office
microseconds since an arbitrary anchor (``working-day index * day length + office time already
spent that day``). Positions are non-decreasing in time and flat outside office hours, so

* the working time between two instants is the difference of their positions, and
* adding a budget is "position + budget", mapped back to the earliest instant that reaches it.

Working-day indices come from per-year tables built lazily (one pass over the year, asking the
``holidays`` package once per day) and then read in O(1); the tables grow one year at a time in
either direction, so any year (1990, 2090, ...) works. Integer microseconds everywhere avoid
float drift: a budget with two decimals round-trips exactly.
"""

from __future__ import annotations

import bisect
import math
import numbers
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = ["WorkCalendar", "DayInfo", "DayLine", "DueExplanation", "UNITS"]

UNITS = ("working_days", "working_hours", "same_day", "calendar_days")

_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60 * _US_PER_SECOND
_US_PER_HOUR = 60 * _US_PER_MINUTE
_US_PER_DAY = 24 * _US_PER_HOUR
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MIN_YEAR, _MAX_YEAR = date.min.year, date.max.year


@dataclass(frozen=True)
class DayInfo:
    """What the calendar says about one date.

    kind is one of: "working", "weekend", "holiday", "exchange_workday", "extra_day_off",
    "extra_working_day".
    """

    day: date
    is_working: bool
    reason: str
    kind: str
    holiday_name: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class DayLine:
    day: date
    counted_hours: float
    skipped: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "counted_hours": self.counted_hours,
            "skipped": self.skipped,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DueExplanation:
    received_at: datetime
    counted_from: datetime
    due_at: datetime
    unit: str
    amount: float
    cutoff: time | None
    days: tuple[DayLine, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at.isoformat(),
            "counted_from": self.counted_from.isoformat(),
            "due_at": self.due_at.isoformat(),
            "unit": self.unit,
            "amount": self.amount,
            "cutoff": self.cutoff.isoformat() if self.cutoff is not None else None,
            "days": [line.to_dict() for line in self.days],
            "notes": list(self.notes),
        }


class _Tables:
    """Immutable snapshot of the working-day tables for a contiguous range of years.

    Replaced as a whole when a year is added, so readers never see a half-built state.
    ``cum[o - lo]`` is the number of working days before ordinal ``o`` (relative to an anchor,
    may be negative): for a working day that is its index, for a non-working day it is the
    index of the next working day. ``ords[k - idx0]`` is the ordinal of working day ``k``.
    """

    __slots__ = ("lo", "hi", "cum", "work", "ords", "idx0", "ymin", "ymax")

    def __init__(self, lo, hi, cum, work, ords, idx0, ymin, ymax):
        self.lo, self.hi = lo, hi
        self.cum, self.work, self.ords, self.idx0 = cum, work, ords, idx0
        self.ymin, self.ymax = ymin, ymax


def _parse_extra_days(items: Iterable[Any], what: str) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for item in items or ():
        ref = None
        if isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise ValueError(
                    f"{what}: expected a date or a (date, legal_reference) pair, got {item!r}"
                )
            item, ref = item
            if ref is not None and not isinstance(ref, str):
                raise ValueError(f"{what}: the legal reference must be a string, got {ref!r}")
            ref = (ref.strip() or None) if ref is not None else None
        if isinstance(item, datetime) or not isinstance(item, date):
            raise ValueError(f"{what}: expected a datetime.date, got {item!r}")
        out[item.toordinal()] = ref
    return out


def _parse_sessions(office_hours: Any) -> tuple[tuple[int, int], ...]:
    try:
        raw = [tuple(s) for s in office_hours]
    except TypeError:
        raise ValueError(
            f"office_hours must be a sequence of (h1, m1, h2, m2) sessions, got {office_hours!r}"
        ) from None
    if not raw:
        raise ValueError("office_hours needs at least one session")
    sessions: list[tuple[int, int]] = []
    for s in raw:
        if len(s) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in s):
            raise ValueError(f"office hours session {s!r} must be four integers (h1, m1, h2, m2)")
        h1, m1, h2, m2 = s
        for h, m in ((h1, m1), (h2, m2)):
            if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
                raise ValueError(
                    f"office hours session {s!r}: {h:02d}:{m:02d} is not a time of day"
                )
        start, end = (h1 * 60 + m1) * _US_PER_MINUTE, (h2 * 60 + m2) * _US_PER_MINUTE
        if start >= end:
            raise ValueError(f"office hours session {s!r} must end after it starts")
        if sessions and start < sessions[-1][1]:
            raise ValueError(f"office hours sessions must be sorted and must not overlap: {s!r}")
        sessions.append((start, end))
    return tuple(sessions)


def _fmt_instant(dt: datetime) -> str:
    return f"{dt:%H:%M} {_WEEKDAYS[dt.weekday()]} {dt:%d/%m/%Y}"


def _fmt_day(d: date) -> str:
    return f"{_WEEKDAYS[d.weekday()]} {d:%d/%m/%Y}"


def _fmt_amount(x: float) -> str:
    return f"{x:g}"


class WorkCalendar:
    """Working days, office hours and due instants for one country (default: Viet Nam)."""

    def __init__(
        self,
        country: str = "VN",
        subdiv: str | None = None,
        office_hours: Iterable[Iterable[int]] = ((8, 0, 12, 0), (13, 0, 17, 0)),
        tz: str | tzinfo = "Asia/Ho_Chi_Minh",
        extra_days_off: Iterable[Any] = (),
        extra_working_days: Iterable[Any] = (),
    ) -> None:
        if not isinstance(country, str) or not country.strip():
            raise ValueError(f"country must be an ISO 3166 code such as 'VN', got {country!r}")
        self.country = country.strip().upper()
        self.subdiv = subdiv
        try:
            probe = holidays.country_holidays(self.country, subdiv=subdiv)
        except (NotImplementedError, KeyError) as exc:
            raise ValueError(
                f"the holidays package does not know country {self.country!r}"
                + (f" with subdivision {subdiv!r}" if subdiv else "")
                + f": {exc}"
            ) from None
        # Vietnamese names where the country has them (VN does; without asking, even VN answers
        # in English); other countries keep the package's default names.
        language = "vi" if "vi" in (probe.supported_languages or ()) else None
        self.language = language
        self._h = holidays.country_holidays(self.country, subdiv=subdiv, language=language)

        if isinstance(tz, str):
            try:
                self._zone: tzinfo = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {tz!r}") from None
        elif isinstance(tz, tzinfo):
            self._zone = tz
        else:
            raise ValueError(f"tz must be a zone name or a tzinfo, got {tz!r}")

        self._sessions = _parse_sessions(office_hours)
        self._session_starts = tuple(s for s, _ in self._sessions)
        ends, total = [], 0
        for s, e in self._sessions:
            total += e - s
            ends.append(total)
        self._cum_ends = tuple(ends)  # office time spent at the end of each session
        self._day_us = total
        self._open_us = self._sessions[0][0]
        self._close_us = self._sessions[-1][1]

        self._extra_off = _parse_extra_days(extra_days_off, "extra_days_off")
        self._extra_on = _parse_extra_days(extra_working_days, "extra_working_days")
        clash = sorted(set(self._extra_off) & set(self._extra_on))
        if clash:
            raise ValueError(
                "dates listed both as extra days off and extra working days: "
                + ", ".join(date.fromordinal(o).isoformat() for o in clash)
            )

        self._t: _Tables | None = None
        self._lock = threading.Lock()
        self._midnights: dict[int, datetime] = {}
        self._tods: dict[int, timedelta] = {}

    @classmethod
    def vietnam(cls, **kw: Any) -> WorkCalendar:
        """The default calendar: VN holidays, 08:00-12:00 and 13:00-17:00, Asia/Ho_Chi_Minh."""
        if kw.get("country", "VN").upper() != "VN":
            raise ValueError(
                "WorkCalendar.vietnam() is the VN calendar; use WorkCalendar(country=...)"
            )
        kw["country"] = "VN"
        return cls(**kw)

    # ---- read-only facts -------------------------------------------------------------------

    @property
    def zone(self) -> tzinfo:
        return self._zone

    @property
    def office_hours(self) -> tuple[tuple[int, int, int, int], ...]:
        def hm(us: int) -> tuple[int, int]:
            return divmod(us // _US_PER_MINUTE, 60)

        return tuple((*hm(s), *hm(e)) for s, e in self._sessions)

    @property
    def hours_per_day(self) -> float:
        return self._day_us / _US_PER_HOUR

    def __repr__(self) -> str:
        return (
            f"WorkCalendar(country={self.country!r}, subdiv={self.subdiv!r}, "
            f"office_hours={self.office_hours!r}, tz={str(self._zone)!r})"
        )

    # ---- lazy per-year tables ----------------------------------------------------------------

    def _is_working_raw(self, d: date) -> bool:
        o = d.toordinal()
        if o in self._extra_off:
            return False
        if o in self._extra_on:
            return True
        return self._h.is_working_day(d)

    def _year_flags(self, year: int) -> bytes:
        # Populate the neighbouring years too: an exchange Saturday can be announced in the
        # year of the day off it pays for (e.g. a Saturday in December for a day off in January).
        for y in (year - 1, year, year + 1):
            if _MIN_YEAR <= y <= _MAX_YEAR:
                self._h.get(date(y, 1, 1))
        first = date(year, 1, 1).toordinal()
        last = date(year, 12, 31).toordinal()
        return bytes(self._is_working_raw(date.fromordinal(o)) for o in range(first, last + 1))

    def _extend(self, year: int) -> None:
        """Make the tables cover ``year`` (and every year between it and what is covered)."""
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            raise ValueError(f"year {year} is outside the supported range {_MIN_YEAR}-{_MAX_YEAR}")
        with self._lock:
            t = self._t
            if t is None:
                flags = self._year_flags(year)
                lo = date(year, 1, 1).toordinal()
                cum, ords, n = [], [], 0
                for i, f in enumerate(flags):
                    cum.append(n)
                    if f:
                        ords.append(lo + i)
                        n += 1
                cum.append(n)  # one past the end: working days before the next year
                self._t = _Tables(lo, lo + len(flags), cum, flags, ords, 0, year, year)
                t = self._t
            while year > t.ymax:
                y = t.ymax + 1
                flags = self._year_flags(y)
                cum, ords = t.cum[:], t.ords[:]
                n = cum[-1]
                cum.pop()
                for i, f in enumerate(flags):
                    cum.append(n)
                    if f:
                        ords.append(t.hi + i)
                        n += 1
                cum.append(n)
                t = _Tables(t.lo, t.hi + len(flags), cum, t.work + flags, ords, t.idx0, t.ymin, y)
                self._t = t
            while year < t.ymin:
                y = t.ymin - 1
                flags = self._year_flags(y)
                lo = date(y, 1, 1).toordinal()
                count = sum(flags)
                n = t.cum[0] - count
                cum, ords = [], []
                for i, f in enumerate(flags):
                    cum.append(n)
                    if f:
                        ords.append(lo + i)
                        n += 1
                t = _Tables(
                    lo, t.hi, cum + t.cum, flags + t.work, ords + t.ords, t.idx0 - count, y, t.ymax
                )
                self._t = t

    def _tables_for_ord(self, o: int) -> _Tables:
        t = self._t
        if t is None or not t.lo <= o < t.hi:
            self._extend(date.fromordinal(o).year)
            t = self._t
        return t

    def _tables_for_index(self, k: int) -> _Tables:
        if self._t is None:
            self._extend(date.today().year)
        t = self._t
        while not t.idx0 <= k < t.idx0 + len(t.ords):
            # Working day k lies beyond the covered years: add one year in that direction
            # (_extend refuses to go past year 1 or 9999, so this loop ends).
            self._extend(t.ymax + 1 if k >= t.idx0 else t.ymin - 1)
            t = self._t
        return t

    def _ord_of_index(self, k: int) -> int:
        t = self._t
        i = k - t.idx0
        if 0 <= i < len(t.ords):
            return t.ords[i]
        t = self._tables_for_index(k)
        return t.ords[k - t.idx0]

    def _cum(self, o: int) -> int:
        t = self._t
        if t is None or not t.lo <= o < t.hi:
            t = self._tables_for_ord(o)
        return t.cum[o - t.lo]

    def _first_working_from(self, o: int) -> int:
        """Ordinal of the first working day on or after ordinal ``o``."""
        return self._ord_of_index(self._cum(o))

    # ---- instant helpers -------------------------------------------------------------------

    def _local(self, instant: Any, what: str = "instant") -> datetime:
        if not isinstance(instant, datetime):
            raise ValueError(f"{what} must be a timezone-aware datetime, got {instant!r}")
        tz = instant.tzinfo
        if tz is None or tz.utcoffset(instant) is None:
            raise ValueError(
                f"{what} {instant.isoformat()} is a naive datetime: give it a time zone "
                f"(e.g. tzinfo=ZoneInfo({str(self._zone)!r}))"
            )
        if tz is not self._zone:
            instant = instant.astimezone(self._zone)
        return instant

    def _at(self, o: int, tod_us: int) -> datetime:
        """Aware local datetime for ordinal ``o`` at ``tod_us`` microseconds after midnight."""
        mid = self._midnights.get(o)
        if mid is None:
            mid = self._midnight(o)
        td = self._tods.get(tod_us)
        if td is None:
            td = self._tod(tod_us)
        # Aware + timedelta is wall-clock arithmetic in Python: 08:00 stays 08:00 across DST.
        return mid + td

    def _midnight(self, o: int) -> datetime:
        d = date.fromordinal(o)
        mid = datetime(d.year, d.month, d.day, tzinfo=self._zone)
        if len(self._midnights) < 200_000:  # cache bound: ~550 years of days
            self._midnights[o] = mid
        return mid

    def _tod(self, tod_us: int) -> timedelta:
        # Building a timedelta costs more than the rest of due_at: keep the common ones.
        td = timedelta(microseconds=tod_us)
        if len(self._tods) < 50_000:
            self._tods[tod_us] = td
        return td

    def _office_before(self, tod: int) -> int:
        """Office microseconds of a working day that lie before time of day ``tod``."""
        spent = 0
        for start, end in self._sessions:
            if tod <= start:
                break
            if tod < end:
                return spent + tod - start
            spent += end - start
        return spent

    def _pos(self, o: int, tod: int) -> int:
        """Working position (office microseconds since the anchor) of local (ordinal, tod)."""
        t = self._t
        if t is None or not t.lo <= o < t.hi:
            t = self._tables_for_ord(o)
        i = o - t.lo
        if t.work[i]:
            return t.cum[i] * self._day_us + self._office_before(tod)
        return t.cum[i] * self._day_us

    def _pos_of(self, local: datetime) -> int:
        tod = (
            (local.hour * 60 + local.minute) * 60 + local.second
        ) * _US_PER_SECOND + local.microsecond
        return self._pos(local.toordinal(), tod)

    def _instant_at_pos(self, target: int) -> datetime:
        """Earliest instant whose working position is ``target`` (a budget running out)."""
        k, rem = divmod(target, self._day_us)
        if rem == 0:
            # Runs out exactly at a day's close: due at that close, not at the next opening.
            k -= 1
            tod = self._close_us
        else:
            j = bisect.bisect_left(self._cum_ends, rem)
            tod = self._session_starts[j] + rem - (self._cum_ends[j - 1] if j else 0)
        t = self._t
        i = k - t.idx0
        if not 0 <= i < len(t.ords):
            t = self._tables_for_index(k)
            i = k - t.idx0
        return self._at(t.ords[i], tod)

    @staticmethod
    def _check_amount(amount: Any, what: str = "amount") -> float:
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
            raise ValueError(f"{what} must be a number, got {amount!r}")
        if not math.isfinite(amount):
            raise ValueError(f"{what} must be finite, got {amount!r}")
        if amount < 0:
            raise ValueError(f"{what} must not be negative, got {amount!r}")
        return amount

    # ---- public API --------------------------------------------------------------------------

    def _as_date(self, day: Any) -> date:
        if isinstance(day, datetime):
            return self._local(day, "day").date()
        if not isinstance(day, date):
            raise ValueError(f"expected a datetime.date, got {day!r}")
        return day

    def is_working_day(self, day: date) -> bool:
        o = self._as_date(day).toordinal()
        t = self._tables_for_ord(o)
        return bool(t.work[o - t.lo])

    def next_opening(self, instant: datetime) -> datetime:
        """``instant`` itself if inside office hours (a session start counts as inside, its end
        does not), else the start of the next session on a working day."""
        local = self._local(instant)
        o = local.toordinal()
        t = self._tables_for_ord(o)
        if t.work[o - t.lo]:
            tod = (
                (local.hour * 60 + local.minute) * 60 + local.second
            ) * _US_PER_SECOND + local.microsecond
            for start, end in self._sessions:
                if tod < start:
                    return self._at(o, start)
                if tod < end:
                    return local
        return self._at(self._first_working_from(o + 1), self._open_us)

    def close_of_day(self, day: date) -> datetime:
        """End of the last session of ``day``, as an aware local datetime.

        Pure clock arithmetic: it does not check that ``day`` is a working day.
        """
        return self._at(self._as_date(day).toordinal(), self._close_us)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Earliest instant t >= start with exactly ``hours`` of office time in [start, t]."""
        hours = self._check_amount(hours, "hours")
        local = self._local(start, "start")
        budget = round(hours * _US_PER_HOUR)
        if budget == 0:
            return local
        return self._instant_at_pos(self._pos_of(local) + budget)

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Office hours between two instants; negative (minus the reverse) if end < start."""
        a = self._pos_of(self._local(start, "start"))
        b = self._pos_of(self._local(end, "end"))
        return (b - a) / _US_PER_HOUR

    def working_days_between(self, start: date, end: date) -> list[date]:
        """Working days d with start <= d <= end (both inclusive); [] if end < start."""
        a = self._as_date(start).toordinal()
        b = self._as_date(end).toordinal()
        if b < a:
            return []
        first, after = self._cum(a), self._cum(b + 1)
        return [date.fromordinal(self._ord_of_index(k)) for k in range(first, after)]

    def due_at(
        self, received_at: datetime, unit: str, amount: float, cutoff: time | None = None
    ) -> datetime:
        """Due instant per RULES.md section 3; see the module docstring for the arithmetic."""
        if unit == "working_days" or unit == "working_hours":
            if cutoff is not None:
                raise ValueError(f"a cut-off only applies to unit 'same_day', not {unit!r}")
            # Cheap checks first: this is the hot path (recomputing due instants of open cases).
            tp = type(amount)
            if not ((tp is float and 0.0 <= amount < math.inf) or (tp is int and amount >= 0)):
                amount = self._check_amount(amount)
            per = self._day_us if unit == "working_days" else _US_PER_HOUR
            local = received_at
            if local.__class__ is not datetime or local.tzinfo is not self._zone:
                local = self._local(received_at, "received_at")
            budget = round(amount * per)
            if budget == 0:
                return self.next_opening(local)
            # The position of a receipt outside office hours equals that of the next opening,
            # so normalising first changes nothing here. _pos_of and _instant_at_pos are
            # inlined below: this is the hot path (recomputing due instants of open cases).
            o = local.toordinal()
            t = self._t
            if t is None or not t.lo <= o < t.hi:
                t = self._tables_for_ord(o)
            i = o - t.lo
            day_us = self._day_us
            pos = t.cum[i] * day_us + budget
            if t.work[i]:
                pos += self._office_before(
                    ((local.hour * 60 + local.minute) * 60 + local.second) * _US_PER_SECOND
                    + local.microsecond
                )
            k, rem = divmod(pos, day_us)
            if rem == 0:  # runs out exactly at a close: due at that close
                k -= 1
                tod = self._close_us
            else:
                j = bisect.bisect_left(self._cum_ends, rem)
                tod = self._session_starts[j] + rem - (self._cum_ends[j - 1] if j else 0)
            t = self._t
            i = k - t.idx0
            if not 0 <= i < len(t.ords):
                t = self._tables_for_index(k)
                i = k - t.idx0
            o = t.ords[i]
            mid = self._midnights.get(o)
            td = self._tods.get(tod)
            return (mid if mid is not None else self._midnight(o)) + (
                td if td is not None else self._tod(tod)
            )
        if unit == "same_day":
            if self._check_amount(amount) != 0:
                raise ValueError(f"unit 'same_day' takes amount 0, got {amount!r}")
            opened = self.next_opening(self._local(received_at, "received_at"))
            o = opened.toordinal()
            if cutoff is not None and self._after_cutoff(opened, cutoff):
                o = self._first_working_from(o + 1)
            return self._at(o, self._close_us)
        if unit == "calendar_days":
            n = self._calendar_days(amount)
            if cutoff is not None:
                raise ValueError(f"a cut-off only applies to unit 'same_day', not {unit!r}")
            opened = self.next_opening(self._local(received_at, "received_at"))
            return self._at(self._first_working_from(opened.toordinal() + n), self._close_us)
        raise ValueError(f"unknown unit {unit!r}; valid units: {', '.join(UNITS)}")

    def _calendar_days(self, amount: Any) -> int:
        self._check_amount(amount)
        if amount != int(amount) or amount < 1:
            raise ValueError(
                f"unit 'calendar_days' takes a whole number of days >= 1, got {amount!r}"
            )
        return int(amount)

    @staticmethod
    def _after_cutoff(opened: datetime, cutoff: Any) -> bool:
        if not isinstance(cutoff, time):
            raise ValueError(f"cutoff must be a datetime.time (local time), got {cutoff!r}")
        if cutoff.tzinfo is not None:
            raise ValueError("cutoff must be a naive local time such as time(15, 0)")
        # RULES.md: received *after* the cut-off; 15:00:00 sharp is still today.
        return opened.time() > cutoff

    def describe_day(self, day: date) -> DayInfo:
        d = self._as_date(day)
        o = d.toordinal()
        if o in self._extra_off:
            ref = self._extra_off[o]
            return DayInfo(
                d,
                False,
                "extra day off" + (f": {ref}" if ref else ""),
                "extra_day_off",
                self._h.get(d),
                ref,
            )
        if o in self._extra_on:
            ref = self._extra_on[o]
            return DayInfo(
                d,
                True,
                "extra working day" + (f": {ref}" if ref else ""),
                "extra_working_day",
                self._h.get(d),
                ref,
            )
        name = self._h.get(d)
        weekend = self._h.is_weekend(d)
        working = self._h.is_working_day(d)
        if weekend and working:
            return DayInfo(
                d, True, f"{_WEEKDAYS[d.weekday()]} worked in exchange", "exchange_workday", name
            )
        if name and not working:
            return DayInfo(d, False, f"{name} (weekend)" if weekend else name, "holiday", name)
        if weekend:
            return DayInfo(d, False, "weekend", "weekend")
        return DayInfo(
            d,
            working,
            "working day" if working else "not a working day",
            "working" if working else "holiday",
            name,
        )

    def explain_due(
        self, received_at: datetime, unit: str, amount: float, cutoff: time | None = None
    ) -> DueExplanation:
        due = self.due_at(received_at, unit, amount, cutoff)  # validates everything
        received = self._local(received_at, "received_at")
        counted_from = self.next_opening(received)
        notes: list[str] = []

        if counted_from != received:
            info = self.describe_day(received.date())
            where = (
                f"received on a non-working day ({info.reason})"
                if not info.is_working
                else "received outside office hours"
            )
            notes.append(f"{where}: counted from {_fmt_instant(counted_from)}")

        nth_day: date | None = None
        if unit == "working_days":
            notes.append(
                f"{_fmt_amount(amount)} working day(s) x {_fmt_amount(self.hours_per_day)} h = "
                f"{_fmt_amount(amount * self.hours_per_day)} working hours, counted through "
                "office hours only"
            )
        elif unit == "working_hours":
            notes.append(f"{_fmt_amount(amount)} working hours, counted through office hours only")
        elif unit == "same_day":
            if cutoff is not None and self._after_cutoff(counted_from, cutoff):
                notes.append(f"received after the {cutoff:%H:%M} cut-off: due the next working day")
            else:
                notes.append("same-day procedure: due at the close of the day of receipt")
        else:
            n = self._calendar_days(amount)
            nth_day = counted_from.date() + timedelta(days=n)
            notes.append(
                f"{n} calendar day(s) after {counted_from:%d/%m/%Y} is {_fmt_day(nth_day)}"
            )
            if due.date() != nth_day:
                notes.append(
                    f"{_fmt_day(nth_day)} is not a working day "
                    f"({self.describe_day(nth_day).reason}): due at the close of the next "
                    f"working day, {_fmt_day(due.date())}"
                )

        lines: list[DayLine] = []
        first_o, cf_o, due_o = received.toordinal(), counted_from.toordinal(), due.toordinal()
        cf_pos, due_pos = self._pos_of(counted_from), self._pos_of(due)
        for o in range(first_o, due_o + 1):
            d = date.fromordinal(o)
            info = self.describe_day(d)
            lo = cf_pos if o == cf_o else self._pos(o, 0)
            hi = due_pos if o == due_o else self._pos(o, _US_PER_DAY)
            hours = max(0, hi - lo) / _US_PER_HOUR if o >= cf_o else 0.0
            if info.is_working:
                if o < cf_o:
                    lines.append(DayLine(d, 0.0, True, "received after closing time"))
                else:
                    lines.append(DayLine(d, hours, False, info.reason))
            elif nth_day is not None and cf_o < o <= nth_day.toordinal():
                lines.append(DayLine(d, 0.0, False, f"{info.reason} (counts as a calendar day)"))
            else:
                lines.append(DayLine(d, 0.0, True, info.reason))
                if info.kind != "weekend":
                    notes.append(f"{d:%d/%m/%Y} not counted: {info.reason}")
            if info.kind == "exchange_workday" and o >= cf_o:
                notes.append(f"{d:%d/%m/%Y} counted: {info.reason}")
        return DueExplanation(
            received, counted_from, due, unit, amount, cutoff, tuple(lines), tuple(notes)
        )
