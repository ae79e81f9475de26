"""A synthetic province at scale: `onestop seed --synthetic --cases N`.

The demo (`onestop.demo`) drives every case through the lifecycle operations, which is exact
but takes milliseconds per case. This module writes the same rows directly, fast enough for a
province's million cases a year: cases, step_assignments, pauses, extensions and case_events,
each case's history numbered from 1 and hash-chained exactly as `lifecycle._record` would
chain it (`onestop audit verify` passes), `last_event_seq`/`last_event_hash` on the case, due
instants from `WorkCalendar.due_at`/`add_working_hours`, and step results classified as
`onestop.classification` does. PostgreSQL is loaded with COPY by a writer thread while the next
chunk is generated; SQLite with executemany. Memory stays bounded: chunks of 5,000 cases, at
most two in flight.

Deterministic: each day of the period draws from its own random stream derived from the seed,
so a seed and an end instant `now` give the same rows whatever the chunk size (up to the ids
the database assigns to units and officers: PostgreSQL's sequences never go back).

What it looks like: procedure popularity skewed as at real desks (certification and civil
status dominate); step durations lognormal around a share of their budget, with a few slow
officers and slow units where lateness concentrates; supplements (some cases twice, a few
abandoned), financial-obligation pauses on land cases, extensions (form 04), reassignments,
withdrawals, stops, refusals at intake and after review, guided dossiers, inter-agency steps at
provincial bodies (LT-TE6, land), online and postal dossiers accepted later, and every case whose
timeline runs past `now` left open where it stands (at a step, or paused).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import queue
import random
import threading
import time as _time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from onestop import clock
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.catalogue import bundled_catalogue, load_catalogue
from onestop.errors import ValidationError
from onestop.lifecycle import FORWARDING_CUTOFF
from onestop.models import Case, Officer, OfficerRole, Procedure, Unit

__all__ = ["SyntheticSummary", "seed_synthetic"]

DEFAULT_COMMUNES = 100
DEFAULT_MONTHS = 12
DEFAULT_CHUNK = 5_000

PROVINCE = ("TS", "Tỉnh Sơn Nam (tổng hợp)")
PROVINCE_BODIES = (  # (suffix, name, kind, role they take, officers per 10 communes)
    ("VPDK", "Văn phòng Đăng ký đất đai tỉnh", "agency", "land_registration_office", 1.5),
    ("STNMT", "Sở Nông nghiệp và Môi trường tỉnh", "department", "province_land_department", 0.6),
    ("BHXH", "Bảo hiểm xã hội tỉnh", "agency", "social_insurance_office", 1.0),
)
# Units below each commune: (suffix, name prefix, kind).
DEPARTMENTS = (
    ("MC", "Bộ phận Một cửa", "desk"),
    ("TP", "Tư pháp – Hộ tịch", "department"),
    ("KT", "Phòng Kinh tế", "department"),
    ("VHXH", "Phòng Văn hoá – Xã hội", "department"),
    ("CA", "Công an", "department"),
)
# Who takes each role of the catalogue's steps: (unit suffix, "" = the commune itself; base
# head count, scaled by the commune's size). Unknown roles go to the commune itself.
ROLE_HOMES: dict[str, tuple[str, float]] = {
    "desk": ("MC", 2.5),
    "civil_status_officer": ("TP", 2),
    "justice_officer": ("TP", 1.5),
    "commune_vice_chair": ("", 1.5),
    "commune_chair": ("", 1),
    "economic_officer": ("KT", 1),
    "land_officer": ("KT", 1),
    "construction_officer": ("KT", 1),
    "construction_head": ("KT", 1),
    "social_officer": ("VHXH", 1),
    "police_officer": ("CA", 2),
    "police_chief": ("CA", 1),
}
PROVINCE_ROLES = {role: suffix for suffix, _, _, role, _ in PROVINCE_BODIES}

# Relative popularity at commune desks: certification and civil status dominate.
PROCEDURE_WEIGHTS = {
    "CT-BS": 30, "HT-KS": 13, "CT-CK": 11, "HT-XNHN": 9, "CA-TTR": 6, "HT-KH": 5, "CA-TT": 4,
    "LT-TE6": 4, "HT-KT": 3, "HT-CC": 3, "KD-HKD": 3, "DD-BD": 2.5, "XD-GPXD": 1.5,
    "XH-TCXH": 1.5, "XH-MT": 1, "DD-GCN": 1,
}
IN_PERSON_ONLY = frozenset({"CT-BS", "CT-CK"})  # originals on the counter
WEEKDAY_WEIGHT = (1.25, 1.1, 1.0, 1.0, 0.95, 0.8, 0.8)  # Mondays busiest
OFF_DAY_WEIGHT = 0.05  # online dossiers keep coming on days off

SUPPLEMENTS = (
    ("Bản sao Căn cước không rõ số định danh cá nhân", "Bản sao Căn cước"),
    ("Thiếu giấy tờ chứng minh nơi cư trú", "Giấy xác nhận thông tin về cư trú"),
    ("Tờ khai chưa có chữ ký của người yêu cầu", "Tờ khai (đã ký)"),
    ("Thông tin trên tờ khai không khớp với giấy tờ gốc", "Tờ khai (đã sửa)"),
)
MISSING = ("Bản sao Căn cước", "Tờ khai theo mẫu", "Giấy tờ chứng minh quan hệ nhân thân")
INTAKE_REFUSALS = (
    "Thủ tục không thuộc thẩm quyền giải quyết của xã",
    "Giấy tờ xuất trình có dấu hiệu tẩy xoá, sửa chữa nội dung",
    "Người yêu cầu không xuất trình được bản chính để đối chiếu",
)
REVIEW_REFUSALS = (
    "Người yêu cầu không đủ điều kiện theo quy định",
    "Kết quả xác minh cho thấy thông tin kê khai không đúng sự thật",
)
WITHDRAWALS = ("Người nộp hồ sơ có đơn xin rút hồ sơ", "Người nộp hồ sơ không còn nhu cầu giải quyết")
STOPS = (
    "Cơ quan có thẩm quyền đề nghị dừng giải quyết để xác minh tranh chấp",
    "Có văn bản của cơ quan tố tụng đề nghị tạm dừng giải quyết",
)
ABANDONED = "Quá thời hạn bổ sung mà người nộp hồ sơ không bổ sung, hoàn thiện hồ sơ"
LEGAL_GROUND = "Nghị định 118/2025/NĐ-CP"
PAYMENT_NOTE = "Chờ người sử dụng đất thực hiện nghĩa vụ tài chính"
PAID_NOTE = "Đã nộp thuế, phí, lệ phí"
SUPPLIED_NOTE = "Đã nhận đủ giấy tờ bổ sung"
REASSIGN_NOTE = "Giao lại để bảo đảm đúng hạn"
EXTENSION_REASON = "Hồ sơ cần thêm thời gian xử lý tại {unit}; xin lỗi ông/bà vì sự chậm trễ này."

FAMILY = ("Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Vũ", "Phan",
          "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Đinh", "Trịnh", "Đào", "Lý", "Mai")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Quang", "Hữu", "Thu", "Ngọc", "Thanh", "Xuân", "Hồng")
GIVEN = ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Huy", "Khánh", "Long", "Nam", "Phong",
         "Quân", "Sơn", "Tuấn", "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương",
         "Lan", "Linh", "Mai", "Nga", "Ngọc", "Thảo", "Trang", "Yến")
PLACE_SYLLABLES = ("An", "Bình", "Đông", "Hòa", "Hưng", "Lạc", "Minh", "Phú", "Phúc", "Quang",
                   "Sơn", "Tân", "Thạch", "Thanh", "Thuận", "Tiến", "Trung", "Vĩnh", "Xuân", "Yên")
HAMLETS = ("thôn Đông", "thôn Đoài", "thôn Trung", "thôn Thượng", "thôn Hạ", "tổ dân phố 3",
           "tổ dân phố 5", "khu phố Chợ", "xóm Mới")

_SAFE = str.maketrans("", "", '\\"\t\n\r')


def _nfc(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    # Every string written here is checked once: no character that JSON or COPY would escape,
    # so both can be written verbatim.
    if value.translate(_SAFE) != value:
        raise ValueError(f"unsafe character in {value!r}")
    return value


def _js(value: str | None) -> str:
    """JSON of a safe string (see _nfc), as json.dumps(ensure_ascii=False) writes it."""
    return "null" if value is None else f'"{value}"'


# One case's instants, written once each: a step's end is the next step's start and its
# event's instant. Keyed by identity (the instant itself is kept, so its id is not reused);
# emptied for every case.
_written: dict[int, tuple[datetime, str]] = {}


def _utc(instant: datetime) -> str:
    """An instant as SQLAlchemy stores it on SQLite: naive UTC with microseconds."""
    found = _written.get(id(instant))
    if found is not None:
        return found[1]
    stamp = instant.astimezone(UTC).isoformat(" ", "microseconds")[:26]
    _written[id(instant)] = (instant, stamp)
    return stamp


# --- the world --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Person:
    id: int
    username: str
    unit_id: int
    unit_code: str
    slow: float  # multiplier of the time the officer's steps take


@dataclass
class _Commune:
    id: int
    code: str
    name: str
    urban: bool
    weight: float
    units: dict[str, tuple[int, str]] = field(default_factory=dict)  # suffix -> (id, code)
    holders: dict[str, list[_Person]] = field(default_factory=dict)  # role -> officers
    heads: dict[int, _Person] = field(default_factory=dict)  # unit id -> head
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Step:
    position: int
    name: str
    role: str
    budget: float


@dataclass(frozen=True)
class _Proc:
    id: int
    code: str
    unit: str
    amount: float
    cutoff: time | None
    policy: str
    steps: tuple[_Step, ...]
    documents: str  # JSON of the dossier's document list


@dataclass
class SyntheticSummary:
    cases: int = 0
    steps: int = 0
    events: int = 0
    pauses: int = 0
    extensions: int = 0
    statuses: Counter = field(default_factory=Counter)
    results: Counter = field(default_factory=Counter)  # finished steps: early/on_time/late
    units: int = 0
    officers: int = 0
    start: datetime | None = None
    now: datetime | None = None
    seconds: float = 0.0
    # Where the time went: the database writing (COPY or executemany) and the generator
    # waiting for it (PostgreSQL writes while the next chunk is generated).
    write_seconds: float = 0.0
    wait_seconds: float = 0.0
    check_seconds: float = 0.0
    analyze_seconds: float = 0.0
    row_checks: bool = True  # False: per-row triggers set aside, references checked in bulk

    def __str__(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"Synthetic province: {self.units} units, {self.officers} officers; {self.cases} cases "
            f"from {self.start:%d/%m/%Y} to {self.now:%d/%m/%Y %H:%M} with {self.steps} steps, "
            f"{self.events} history events, {self.pauses} pauses, {self.extensions} extensions "
            f"in {self.seconds:.1f} s.\nCases by status: {statuses}.\n"
            f"Finished steps: {dict(sorted(self.results.items()))}."
        )


def seed_synthetic(
    session: Session, *, cases: int, communes: int = DEFAULT_COMMUNES,
    months: int = DEFAULT_MONTHS, seed: int = 2026, now: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK, progress: Callable[[int], None] | None = None,
    row_checks: bool = False, all_open: bool = False,
) -> SyntheticSummary:
    """Fill an empty database with a synthetic province of `communes` communes and `cases`
    cases received over `months` months ending at `now` (default: the current instant).

    Nothing is committed: the caller's transaction decides (one transaction for the whole load).
    `progress`, if given, is called with the number of cases written after each chunk.

    On PostgreSQL, when the role may (a superuser, as pg_restore --disable-triggers needs), the
    per-row triggers (foreign keys, the history's no-backdating guard) are set aside for the
    load and their rules checked once over the whole load instead: every reference by a
    set-based query, the order of each case's history as it is generated. Unique and partial
    unique indexes (one open step per case...) are enforced as always. `row_checks=True`
    keeps the triggers firing on every row (three times slower).

    `all_open=True` builds a backlog instead (for the re-projection benchmark): every case is
    received and still open at `now`, stopped somewhere inside its allowed time.
    """
    if session.scalar(select(Unit.id).limit(1)) is not None:
        raise ValidationError(
            "invalid_value", field="database",
            detail="the database is not empty; the synthetic province fills an empty database",
        )
    if cases < 0 or communes < 1 or months < 1 or chunk_size < 1:
        raise ValidationError(
            "invalid_value", field="cases",
            detail="cases >= 0, at least 1 commune, 1 month and a chunk of 1",
        )
    now = now or clock.now()
    if now.tzinfo is None:
        raise ValueError("naive datetime: give `now` with its time zone")
    started = _time.perf_counter()
    generator = _Generator(session, cases, communes, months, seed, now)
    generator.all_open = all_open
    generator.build_world()
    generator.load(chunk_size, progress, row_checks)
    summary = generator.summary
    summary.seconds = _time.perf_counter() - started
    return summary


class _Generator:
    def __init__(
        self, session: Session, cases: int, communes: int, months: int, seed: int, now: datetime
    ) -> None:
        self.session = session
        self.total = cases
        self.n_communes = communes
        self.seed = seed
        self.cal: WorkCalendar = work_calendar(session)
        self.zone = self.cal.zone
        self.now = now.astimezone(self.zone).replace(microsecond=0)
        self.start = self.now - timedelta(days=round(30.44 * months))
        self.communes: list[_Commune] = []
        self.province: dict[str, tuple[int, str, list[_Person], _Person]] = {}
        self.procs: list[_Proc] = []
        self.summary = SyntheticSummary(start=self.start, now=self.now)
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.all_open = False

    # --- organisation, officers, catalogue ----------------------------------------------------

    def build_world(self) -> None:
        rng = random.Random(f"{self.seed}:world")
        s = self.session
        with clock.frozen_at(self.start - timedelta(days=7)):
            load_catalogue(s, bundled_catalogue())
            for p in s.scalars(
                select(Procedure).where(Procedure.active.is_(True)).order_by(Procedure.code)
            ):
                docs = ",".join(
                    f'{{"count":1,"form":"{form}","name":"{_nfc(name)}"}}'
                    for name, form in (("Tờ khai " + p.name_vi.lower(), "original"),
                                       ("Bản sao Căn cước", "copy"))
                )
                self.procs.append(_Proc(
                    p.id, p.code, p.duration_unit, p.duration_amount, p.same_day_cutoff,
                    p.pause_policy,
                    tuple(_Step(st.position, _nfc(st.name), st.role, st.budget_hours) for st in p.steps),
                    f"[{docs}]",
                ))
            roles = {st.role for p in self.procs for st in p.steps}
            now = clock.now()
            code, name = PROVINCE
            province = Unit(code=code, name=name, kind="province")
            s.add(province)
            officers: list[tuple[Officer, list[tuple[Unit, str]], str]] = []
            names = self._names(rng)

            def officer(username: str, roles_at: list[tuple[Unit, str]]) -> Officer:
                o = Officer(username=username, full_name=next(names), active=True,
                            created_at=now, email=f"{username}@synthetic.onestop.vn")
                o.roles = [OfficerRole(unit=u, role=r, acting=False) for u, r in roles_at]
                s.add(o)
                officers.append((o, roles_at, username))
                return o

            officer("admin", [(province, "admin")])
            officer("chutich.tinh", [(province, "chair")])
            officer("thanhtra.tinh", [(province, "inspector")])
            bodies: dict[str, Unit] = {}
            for suffix, body_name, kind, role, per_ten in PROVINCE_BODIES:
                unit = Unit(code=f"{code}-{suffix}", name=body_name, kind=kind, parent=province)
                bodies[suffix] = unit
                officer(f"giamdoc.{suffix.lower()}", [(unit, "unit_head")])
                for n in range(1, max(2, round(per_ten * self.n_communes / 10)) + 1):
                    officer(f"{suffix.lower()}{n}", [(unit, role)])
            commune_units: list[tuple[_Commune, dict[str, Unit]]] = []
            for place in self._places(rng):
                idx = len(commune_units) + 1
                urban = rng.random() < 0.3
                c_code = f"{'PH' if urban else 'XA'}-{idx:03d}"
                c_name = f"UBND {'phường' if urban else 'xã'} {place}"
                # Commune sizes are skewed: a few large wards, many small communes.
                weight = rng.lognormvariate(0, 0.6)
                commune = _Commune(0, c_code, c_name, urban, weight)
                commune.addresses = tuple(
                    _nfc(f"{h}, {'phường' if urban else 'xã'} {place}") for h in HAMLETS
                )
                units = {"": Unit(code=c_code, name=c_name, kind="ward" if urban else "commune",
                                  parent=province)}
                for suffix, prefix, kind in DEPARTMENTS:
                    units[suffix] = Unit(
                        code=f"{c_code}-{suffix}", name=f"{prefix} {c_name.removeprefix('UBND ')}",
                        kind=kind, parent=units[""],
                    )
                slug = c_code.lower().replace("-", "")
                officer(f"chutich.{slug}", [(units[""], "chair"), (units[""], "unit_head"),
                                            (units[""], "commune_chair")])
                for suffix, _, _ in DEPARTMENTS:
                    officer(f"truong.{suffix.lower()}.{slug}", [(units[suffix], "unit_head")])
                size = min(3.0, max(0.5, weight))
                for role in sorted(roles - set(PROVINCE_ROLES)):
                    suffix, base = ROLE_HOMES.get(role, ("", 1))
                    if role == "commune_chair":
                        continue  # the chair holds it
                    for n in range(1, max(1, round(base * size)) + 1):
                        officer(f"{role}{n}.{slug}", [(units[suffix], role)])
                commune_units.append((commune, units))
                self.communes.append(commune)
            s.flush()

        # Where lateness concentrates: a few slow officers and slow units.
        slow_units = {"TS-VPDK": 1.45}
        for _, units in commune_units:
            for suffix, unit in units.items():
                if suffix not in ("", "MC") and rng.random() < 0.08:
                    slow_units[unit.code] = rng.uniform(1.3, 1.7)
        people: dict[str, _Person] = {}
        for o, roles_at, username in officers:
            unit = roles_at[0][0]
            processing = roles_at[0][1] not in ("desk", "unit_head", "chair", "admin", "inspector")
            slow = rng.uniform(1.8, 2.6) if processing and rng.random() < 0.06 else 1.0
            slow *= slow_units.get(unit.code, 1.0)
            people[username] = _Person(o.id, username, unit.id, unit.code, slow)
        by_unit_role: dict[tuple[int, str], list[_Person]] = {}
        heads: dict[int, _Person] = {}
        for o, roles_at, username in officers:
            for unit, role in roles_at:
                by_unit_role.setdefault((unit.id, role), []).append(people[username])
                if role == "unit_head":
                    heads.setdefault(unit.id, people[username])
        for suffix, _, _, role, _ in PROVINCE_BODIES:
            unit = bodies[suffix]
            self.province[role] = (
                unit.id, unit.code, by_unit_role[(unit.id, role)], heads[unit.id]
            )
        for commune, units in commune_units:
            commune.id = units[""].id
            commune.units = {k: (u.id, u.code) for k, u in units.items()}
            for role in roles - set(PROVINCE_ROLES):
                suffix = ROLE_HOMES.get(role, ("", 1))[0]
                commune.holders[role] = by_unit_role.get((units[suffix].id, role), [])
            commune.heads = {u.id: heads[u.id] for u in units.values() if u.id in heads}
        self.summary.units = s.scalar(select(func.count()).select_from(Unit)) or 0
        self.summary.officers = len(officers)

    def _names(self, rng: random.Random):
        seen: set[str] = set()
        while True:
            name = _nfc(f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}")
            if name in seen and rng.random() < 0.9:
                name = f"{name} {rng.choice(GIVEN)}"
            seen.add(name)
            yield name

    def _places(self, rng: random.Random):
        used: set[str] = set()
        while len(used) < self.n_communes:
            a, b = rng.sample(PLACE_SYLLABLES, 2)
            place = _nfc(f"{a} {b}")
            if place in used:
                place = _nfc(f"{a} {b} {len(used)}")
            used.add(place)
            yield place

    # --- the period -----------------------------------------------------------------------------

    def _days(self) -> list[tuple[date, int]]:
        """Every local day of the period that ended before `now`, with its share of the cases
        (largest remainder, so the total is exact and the split deterministic)."""
        first, last = self.start.date() + timedelta(days=1), self.now.date() - timedelta(days=1)
        days, weights = [], []
        day = first
        while day <= last:
            days.append(day)
            weights.append(
                WEEKDAY_WEIGHT[day.weekday()] if self.cal.is_working_day(day) else OFF_DAY_WEIGHT
            )
            day += timedelta(days=1)
        if not days:
            raise ValidationError("invalid_value", field="months", detail="the period has no day")
        total_weight = sum(weights)
        exact = [self.total * w / total_weight for w in weights]
        counts = [int(x) for x in exact]
        left = self.total - sum(counts)
        order = sorted(range(len(days)), key=lambda i: (counts[i] - exact[i], i))
        for i in order[:left]:
            counts[i] += 1
        return list(zip(days, counts, strict=True))

    def load(
        self, chunk_size: int, progress: Callable[[int], None] | None, row_checks: bool
    ) -> None:
        next_id = (self.session.scalar(select(func.max(Case.id))) or 0) + 1
        if self.postgres:
            self.sink: _PostgresSink | _SQLiteSink = _PostgresSink(
                self.session, self.summary, row_checks
            )
        else:
            self.sink = _SQLiteSink(self.session, self.summary)
        self.chunk, self.chunk_size, self.progress, self.written = _Chunk(), chunk_size, progress, 0
        try:
            for day, count in self._days():
                next_id = self._day(day, count, next_id)
            self._flush(0)
        finally:
            self.sink.close()
        self.sink.finish()
        self.session.expire_all()

    def _flush(self, at_least: int) -> None:
        """Hand the chunk to the database once it holds more than `at_least` cases."""
        chunk = self.chunk
        if chunk.cases > at_least or (not at_least and chunk.counters):
            chunk.count(self.summary)
            self.sink.write(chunk)
            self.written += chunk.cases
            self.chunk = _Chunk()
            if self.progress:
                self.progress(self.written)

    # --- one day of arrivals --------------------------------------------------------------------

    def _day(self, day: date, count: int, next_id: int) -> int:
        if not count:
            return next_id
        rng = random.Random(f"{self.seed}:{day.toordinal()}")
        cal = self.cal
        working = cal.is_working_day(day)
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        commune_cum = list(accumulate(c.weight for c in self.communes))
        proc_cum = {
            urban: list(accumulate(
                PROCEDURE_WEIGHTS.get(p.code, 1.0) * (0.3 if urban and p.code in ("DD-GCN", "XD-GPXD") else 1.0)
                for p in self.procs
            ))
            for urban in (False, True)
        }
        arrivals = []
        for _ in range(count):
            commune = self.communes[bisect.bisect(commune_cum, rng.random() * commune_cum[-1])]
            cum = proc_cum[commune.urban]
            proc = self.procs[min(bisect.bisect(cum, rng.random() * cum[-1]), len(self.procs) - 1)]
            r = rng.random()
            if not working:
                channel = "online"
            elif proc.code in IN_PERSON_ONLY:
                channel = "in_person"
            else:
                channel = "in_person" if r < 0.76 else ("online" if r < 0.95 else "post")
            if channel == "online" and (not working or rng.random() < 0.35):
                hours = rng.uniform(6, 23) if not working else rng.choice(
                    (rng.uniform(17.2, 23.5), rng.uniform(5.5, 7.9))
                )
            elif rng.random() < 0.6:  # mornings are busier; the queue thins before closing
                hours = 8 + rng.triangular(0, 3.95, 1.2)
            else:
                hours = 13 + rng.triangular(0, 3.95, 1.0)
            arrivals.append((midnight + timedelta(seconds=int(hours * 3600)), commune, proc, channel))
        arrivals.sort(key=lambda a: a[0])
        numbers: Counter = Counter()
        for arrival, commune, proc, channel in arrivals:
            numbers[commune.id] += 1
            code = f"{commune.code}-{day:%y%m%d}-{numbers[commune.id]:04d}"
            _Case(self, self.chunk, rng, next_id, code, commune, proc, channel, arrival).run()
            next_id += 1
            self._flush(self.chunk_size - 1)
        for unit_id, last in numbers.items():
            self.chunk.counters.append((unit_id, day.isoformat(), last))
        return next_id


# --- one case -------------------------------------------------------------------------------------

class _Timeout(Exception):
    """The case's timeline reached `now`: it stays open where it stands."""


class _Case:
    """One case simulated from arrival to its end (or to `now`), written as rows."""

    __slots__ = (
        "arrival",
        "assignment",
        "cal",
        "channel",
        "chunk",
        "code",
        "commune",
        "desk",
        "due",
        "ended_at",
        "g",
        "id",
        "last_at",
        "last_hash",
        "now",
        "original_due",
        "outcome",
        "pause",
        "proc",
        "received_at",
        "returned_at",
        "rng",
        "seq",
        "status",
    )

    def __init__(self, g: _Generator, chunk: _Chunk, rng: random.Random, case_id: int,
                 code: str, commune: _Commune, proc: _Proc, channel: str, arrival: datetime):
        self.g, self.chunk, self.rng = g, chunk, rng
        self.id, self.code, self.commune, self.proc = case_id, code, commune, proc
        self.channel, self.arrival = channel, arrival
        self.cal, self.now = g.cal, g.now
        self.seq, self.last_hash = 0, None
        self.status = "submitted"
        self.received_at = self.due = self.original_due = self.ended_at = None
        self.returned_at = self.outcome = None
        self.assignment: list | None = None  # the open step: see _open
        self.pause: list | None = None
        self.desk: _Person | None = None

    # --- rows -------------------------------------------------------------------------------

    def _event(self, kind: str, at: datetime, actor: _Person | None, from_status: str | None,
               from_step: int | None, reason: str | None, data: str) -> None:
        """Append one event as lifecycle._record would: numbered, stamped, hash-chained."""
        if self.seq and at < self.last_at:  # the history's no-backdating rule, kept here
            raise RuntimeError(f"case {self.id}: {kind} at {at} is before its previous event")
        self.seq += 1
        self.last_at = at
        at_s = _utc(at)
        to_step = self.assignment[0] if self.assignment else None
        actor_id = actor.id if actor else None
        # audit.event_hash's canonical JSON, written out (every string is safe, see _nfc).
        canonical = (
            f'[{self.id},{self.seq},"{kind}","{at_s[:10]}T{at_s[11:]}+00:00",'
            f'{"null" if actor_id is None else actor_id},{_js(from_status)},{_js(self.status)},'
            f'{"null" if from_step is None else from_step},{"null" if to_step is None else to_step},'
            f'{_js(reason)},{data},null]'
        )
        digest = hashlib.sha256(((self.last_hash or "") + canonical).encode()).hexdigest()
        self.chunk.events.append((
            self.id, self.seq, kind, at_s, actor_id, from_status, self.status, from_step,
            to_step, reason, data, self.last_hash, digest,
        ))
        self.last_hash = digest

    def _open(self, position: int, owner: _Person, given_by: _Person | None, at: datetime,
              step_started: datetime | None = None, due: datetime | None = None) -> None:
        step = self.proc.steps[position - 1]
        if due is None:
            # lifecycle: add_working_hours(next_opening(at), budget), which is what due_at's
            # fast "working_hours" path computes.
            due = self.cal.due_at(at, "working_hours", step.budget)
        # [position, owner, given_by, started_at, step_started_at, due_at]
        self.assignment = [position, owner, given_by, at, step_started or at, due]

    def _close(self, at: datetime, end_kind: str, finished: bool = True) -> str | None:
        position, owner, given_by, started, step_started, due = self.assignment
        step = self.proc.steps[position - 1]
        # classification.classify_assignment: a step is judged on instants (working hours).
        result = ("early" if at < due else "on_time" if at == due else "late") if finished else None
        self.chunk.steps.append((
            self.id, position, step.name, step.role, step.budget, owner.id, owner.unit_id,
            given_by.id if given_by else None, _utc(started), _utc(step_started), _utc(due),
            _utc(at), end_kind, result,
        ))
        if result:
            self.g.summary.results[result] += 1
        self.assignment = None
        return result

    def _flush_open(self) -> None:
        if self.assignment:
            position, owner, given_by, started, step_started, due = self.assignment
            step = self.proc.steps[position - 1]
            self.chunk.steps.append((
                self.id, position, step.name, step.role, step.budget, owner.id, owner.unit_id,
                given_by.id if given_by else None, _utc(started), _utc(step_started), _utc(due),
                None, None, None,
            ))
        if self.pause:
            reason, started, requested_by, note, docs = self.pause
            self.chunk.pauses.append(
                (self.id, reason, _utc(started), None, requested_by.id, None, note, docs, None)
            )

    def _after(self, at: datetime, hours: float) -> datetime:
        """`hours` of working time after `at`, to the second (add_working_hours, by the same
        fast path as due_at: the two agree for any positive duration)."""
        return self.cal.due_at(at, "working_hours", max(round(hours * 3600), 60) / 3600)

    def _check(self, at: datetime) -> datetime:
        if at > self.now:
            raise _Timeout
        return at

    # --- the timeline -----------------------------------------------------------------------

    def run(self) -> None:
        _written.clear()
        try:
            self._timeline()
        except _Timeout:
            pass
        self._flush_open()
        g, rng, commune = self.g, self.rng, self.commune
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        self.chunk.cases += 1
        self.chunk.case_rows.append((
            self.id, self.code, commune.id, self.proc.id, unicodedata.normalize("NFC", name),
            f"0{rng.randrange(10**10, 10**11)}", f"09{rng.randrange(10**7, 10**8)}",
            f"Số {rng.randrange(1, 200)}, {rng.choice(commune.addresses)}",
            None, self.channel, self.proc.documents, self.status, _utc(self.arrival),
            _utc(self.received_at) if self.received_at else None,
            _utc(self.original_due) if self.original_due else None,
            _utc(self.due) if self.due else None,
            _utc(self.ended_at) if self.ended_at else None,
            _utc(self.returned_at) if self.returned_at else None,
            self.outcome, self.seq, self.last_hash, self.seq + 1,
        ))
        g.summary.cases += 1
        g.summary.statuses[self.status] += 1

    def _timeline(self) -> None:
        rng, cal, proc, commune = self.rng, self.cal, self.proc, self.commune
        desks = commune.holders["desk"]
        desk = self.desk = desks[rng.randrange(len(desks))]
        t = self.arrival
        from_status = None
        if self.channel != "in_person":
            self._event("registered", t, None, None, None, None, "{}")
            from_status = "submitted"
            # The desk accepts it after a while, in office hours.
            wait = rng.lognormvariate(math.log(1.2), 0.7)
            t = self._check(self._after(cal.next_opening(t), wait))
        r = 1.0 if self.g.all_open else rng.random()
        refuse, guide = (0.02, 0.045) if self.channel == "in_person" else (0.03, 0.06)
        if r < refuse:
            self.status = "refused_at_intake"
            self._event("refused_at_intake", t, desk, from_status, None,
                        rng.choice(INTAKE_REFUSALS), "{}")
            return
        if r < refuse + guide:
            self.status = "guided"
            missing = rng.choice(MISSING)
            self._event("guided", t, desk, from_status, None, None,
                        f'{{"missing":[{{"count":1,"form":"original","name":"{missing}"}}]}}')
            return
        # Received: the clock starts and step 1 is the desk officer's.
        self.received_at = t
        self.due = self.original_due = cal.due_at(t, proc.unit, proc.amount, proc.cutoff)
        self.status = "received"
        # lifecycle._start_clock: a paper dossier received after 15:00 is forwarded at the next
        # working day's opening; the desk's step counts from then.
        local = t.astimezone(self.g.zone)
        forward = self.channel != "online" and local.time() > FORWARDING_CUTOFF
        if forward:
            forward_from = cal.next_opening(cal.close_of_day(local.date()))
            first_due = cal.due_at(forward_from, "working_hours", proc.steps[0].budget)
            self._open(1, desk, None, t, due=first_due)
        else:
            self._open(1, desk, None, t)
        self._event("received", t, desk, from_status, None, None,
                    f'{{"due_at":"{self.due.isoformat()}"}}')
        if self.g.all_open:
            # A backlog: every case stopped somewhere inside its allowed time, still open.
            span = max(cal.working_hours_between(t, self.due), 0.5)
            self.now = min(self.now, self._after(t, rng.random() * span))

        same_day = proc.unit == "same_day"
        supplements = 0
        if rng.random() < (0.04 if same_day else 0.12):
            supplements = 2 if rng.random() < 0.15 else 1
        abandon = supplements and rng.random() < 0.1 and not self.g.all_open
        r = rng.random()
        fate = "resolve"
        if not abandon and not self.g.all_open:
            fate = "withdraw" if r < 0.012 else "stop" if r < 0.018 else "refuse" if r < 0.038 else fate
        payment = proc.code.startswith("DD-") and rng.random() < 0.75
        reassign = rng.random() < 0.02
        uncollected = self.channel == "in_person" and rng.random() < 0.012

        steps = proc.steps
        last = len(steps)
        review = 2 if last >= 3 else 1
        position = 1
        work = done = 0.0

        def until(share: float) -> datetime:
            """Work on to `share` of the step's work; the clock moves to that instant."""
            nonlocal t, done
            target = work * share
            if target > done:
                t = self._after(t, target - done)
                done = target
            return self._check(t)

        while True:
            step = steps[position - 1]
            owner = self.assignment[1]
            # The time the step takes: lognormal around a share of its budget, longer with a
            # slow officer or unit, now and then a dossier forgotten in a pile.
            factor = rng.lognormvariate(-0.6, 0.4) * owner.slow
            if rng.random() < 0.015:
                factor *= rng.uniform(1.8, 3.5)
            work = max(step.budget * factor, 0.05)
            t, done = self.assignment[3], 0.0
            if position == 1 and forward:
                # Forwarded at the next working day's opening, then handled as usual.
                morning = cal.next_opening(cal.close_of_day(local.date()))
                work += cal.working_hours_between(t, morning)

            if position == review:
                projected = cal.add_working_hours(
                    t, work + sum(s.budget for s in steps[position:]) * 0.5
                )
                # Form 04 when the case looks like running late (half the time).
                if work > 0 and projected > self.due and rng.random() < 0.5:
                    self._extend(until(min(1.0, work * 0.2) / work), projected)
                for n in range(supplements):
                    until(rng.uniform(0.15, 0.45) if n == 0 else rng.uniform(0.5, 0.8))
                    owner = self.assignment[1]
                    resumed = self._supplement(t, owner, n + 1, abandon and n == supplements - 1)
                    if resumed is None:
                        return
                    t = resumed
                if fate != "resolve":
                    share = {"withdraw": rng.uniform(0.2, 0.9), "stop": rng.uniform(0.3, 1.0),
                             "refuse": 1.0}[fate]
                    until(share)
                    self._finish(fate, t)
                    return
            if payment and step.role == "land_registration_office":
                until(rng.uniform(0.5, 0.8))
                t = self._payment(t)
            slow_and_late = owner.slow > 1.5 and work > step.budget
            if (reassign and position == review) or (slow_and_late and rng.random() < 0.35):
                until(0.5 if reassign else min(step.budget / work, 0.95))
                if self._reassign(t, step):
                    work = done + step.budget * rng.lognormvariate(math.log(0.35), 0.35)
            until(1.0)
            owner = self.assignment[1]
            if position + 1 < last:
                to = self._owner(steps[position])
                result = self._close(t, "handover")
                prev = self.status
                self.status = "in_progress"
                self._open(position + 1, to, owner, t)
                self._event("handed_over", t, owner, prev, position, None,
                            f'{{"step_due_at":"{self.assignment[5].isoformat()}",'
                            f'"step_result":"{result}","to_owner":"{to.username}"}}')
                position += 1
                continue
            if self.g.all_open:
                raise _Timeout
            # The result goes back to the desk officer who received the dossier.
            prev = self.status
            if position != last:
                self._close(t, "resolved")
                self._open(last, desk, owner, t)
            self.status, self.ended_at, self.outcome = "resolved", t, "approved"
            self._event("resolved", t, owner, prev, position, None,
                        f'{{"outcome":"approved","to_owner":"{self.assignment[1].username}"}}')
            if uncollected:
                return
            # The result reaches the applicant: at once online, by post in a few hours, in
            # person when they come back for it (the return step is not timed: lifecycle).
            if self.channel == "online":
                wait = rng.uniform(0.1, 1.5)
            elif self.channel == "post":
                wait = rng.uniform(1, 4)
            elif same_day and rng.random() < 0.5:
                wait = rng.uniform(0.05, 0.4)  # waited at the counter
            else:
                wait = rng.lognormvariate(math.log(4), 0.9)
            t = self._check(self._after(t, wait))
            holder = self.assignment[1]
            self._close(t, "returned", finished=False)
            self.status, self.returned_at = "returned", t
            self._event("returned", t, holder, "resolved", last, None, "{}")
            return

    def _owner(self, step: _Step) -> _Person:
        body = self.g.province.get(step.role)
        pool = body[2] if body else self.commune.holders[step.role]
        return pool[self.rng.randrange(len(pool))]

    def _head(self, unit_id: int) -> _Person | None:
        head = self.commune.heads.get(unit_id)
        if head is None:
            for _, _, _, body_head in self.g.province.values():
                if body_head.unit_id == unit_id:
                    return body_head
            return self.commune.heads.get(self.commune.id)
        return head

    def _extend(self, at: datetime, projected: datetime) -> None:
        """Form 04 by the head of the step's unit, if a working day of notice is left."""
        cal = self.cal
        if cal.working_hours_between(at, self.due) < cal.hours_per_day + 0.01:
            return
        holder = self.assignment
        head = self._head(holder[1].unit_id)
        if head is None:
            return
        new_due = cal.close_of_day(cal.add_working_hours(max(projected, self.due), 4).date())
        unit_code = holder[1].unit_code
        reason = EXTENSION_REASON.format(unit=unit_code)
        self.chunk.extensions.append(
            (self.id, head.id, _utc(at), reason, holder[1].unit_id, _utc(self.due), _utc(new_due))
        )
        self._event("extended", at, head, self.status, holder[0], reason,
                    f'{{"new_due_at":"{new_due.isoformat()}","responsible_unit":"{unit_code}"}}')

    def _supplement(
        self, at: datetime, owner: _Person, number: int, abandon: bool
    ) -> datetime | None:
        """Form 02 during processing: the clock pauses until the applicant supplies (the
        instant returned) or never does (None: the case stops, ending at the request)."""
        rng = self.rng
        reason, document = rng.choice(SUPPLEMENTS)
        docs = f'[{{"count":1,"form":"copy","name":"{document}"}}]'
        prev, self.status = self.status, "awaiting_supplement"
        self.pause = ["supplement", at, owner, reason, docs]
        position = self.assignment[0]
        self._event("supplement_requested", at, owner, prev, position, reason,
                    f'{{"documents":{docs},"request_number":{number}}}')
        if abandon:
            end = self._check(self._after(at, rng.uniform(160, 240)))
            self._end_pause(end, owner)
            self._close(end, "stopped")
            self.status, self.ended_at = "stopped", at
            self._event("stopped", end, owner, "awaiting_supplement", position, ABANDONED,
                        f'{{"ended_at":"{at.isoformat()}","legal_ground":"{LEGAL_GROUND}"}}')
            return None
        end = self._check(self._after(at, rng.lognormvariate(math.log(16), 0.7)))
        return self._resume(end, self.desk, SUPPLIED_NOTE)

    def _payment(self, at: datetime) -> datetime:
        owner = self.assignment[1]
        prev, self.status = self.status, "awaiting_payment"
        self.pause = ["financial_obligation", at, owner, PAYMENT_NOTE, "[]"]
        self._event("payment_requested", at, owner, prev, self.assignment[0], PAYMENT_NOTE,
                    '{"documents":[],"request_number":null}')
        end = self._check(self._after(at, self.rng.lognormvariate(math.log(24), 0.6)))
        return self._resume(end, owner, PAID_NOTE)

    def _end_pause(self, at: datetime, by: _Person) -> float:
        reason, started, requested_by, note, docs = self.pause
        hours = self.cal.working_hours_between(started, at)
        self.chunk.pauses.append(
            (self.id, reason, _utc(started), _utc(at), requested_by.id, by.id, note, docs, hours)
        )
        self.pause = None
        return hours

    def _resume(self, at: datetime, by: _Person, note: str) -> datetime:
        """lifecycle._resume: the paused working time moves the case's and the step's due."""
        cal, proc = self.cal, self.proc
        reason = self.pause[0]
        hours = self._end_pause(at, by)
        previous = self.due
        policy = proc.policy if reason == "supplement" else "extend"
        if reason == "supplement" and proc.policy == "restart":
            self.due = cal.due_at(at, proc.unit, proc.amount, proc.cutoff)
        else:
            self.due = cal.add_working_hours(previous, hours)
        self.assignment[5] = cal.add_working_hours(self.assignment[5], hours)
        prev = self.status
        self.status = "received" if self.assignment[0] == 1 else "in_progress"
        kind = "supplement_received" if reason == "supplement" else "payment_received"
        self._event(kind, at, by, prev, self.assignment[0], note,
                    f'{{"due_at":"{self.due.isoformat()}","paused_working_hours":{hours!r},'
                    f'"policy":"{policy}","previous_due_at":"{previous.isoformat()}"}}')
        return at

    def _reassign(self, at: datetime, step: _Step) -> bool:
        """The unit head gives the step to a colleague of the same unit; its clock runs on."""
        position, owner, _, _, step_started, due = self.assignment
        head = self._head(owner.unit_id)
        body = self.g.province.get(step.role)
        pool = body[2] if body else self.commune.holders[step.role]
        others = [p for p in pool if p.id != owner.id and p.unit_id == owner.unit_id]
        if head is None or not others:
            return False
        to = others[self.rng.randrange(len(others))]
        self._close(at, "reassigned", finished=False)
        self._open(position, to, head, at, step_started, due)
        self._event("reassigned", at, head, self.status, position, REASSIGN_NOTE,
                    f'{{"from_owner":"{owner.username}","to_owner":"{to.username}"}}')
        return True

    def _finish(self, fate: str, at: datetime) -> None:
        """Withdrawn, stopped or refused after review (lifecycle._finish)."""
        rng = self.rng
        position, owner = self.assignment[0], self.assignment[1]
        kind = {"withdraw": "withdrawn", "stop": "stopped", "refuse": "refused"}[fate]
        actor = self.desk if fate == "withdraw" else owner
        reason = rng.choice({"withdraw": WITHDRAWALS, "stop": STOPS, "refuse": REVIEW_REFUSALS}[fate])
        self._close(at, kind)
        prev, self.status, self.ended_at = self.status, kind, at
        data = f'{{"ended_at":"{at.isoformat()}"' + (
            f',"legal_ground":"{LEGAL_GROUND}"}}' if fate == "stop" else "}"
        )
        self._event(kind, at, actor, prev, position, reason, data)


for _text in (*[s for pair in SUPPLEMENTS for s in pair], *MISSING, *INTAKE_REFUSALS,
              *REVIEW_REFUSALS, *WITHDRAWALS, *STOPS, ABANDONED, LEGAL_GROUND, PAYMENT_NOTE,
              PAID_NOTE, SUPPLIED_NOTE, REASSIGN_NOTE, EXTENSION_REASON, *FAMILY, *MIDDLE, *GIVEN,
              *HAMLETS):
    _nfc(_text)


# --- writing --------------------------------------------------------------------------------------

@dataclass
class _Chunk:
    cases: int = 0
    case_rows: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    pauses: list = field(default_factory=list)
    extensions: list = field(default_factory=list)
    events: list = field(default_factory=list)
    counters: list = field(default_factory=list)

    def count(self, summary: SyntheticSummary) -> None:
        summary.steps += len(self.steps)
        summary.events += len(self.events)
        summary.pauses += len(self.pauses)
        summary.extensions += len(self.extensions)


CASE_COLUMNS = (
    "id", "receipt_code", "unit_id", "procedure_id", "applicant_name", "applicant_id_number",
    "applicant_phone", "applicant_address", "applicant_email", "channel", "documents", "status",
    "submitted_at", "received_at", "original_due_at", "due_at", "ended_at", "returned_at",
    "outcome", "last_event_seq", "last_event_hash", "version_id", "imported",
)
STEP_COLUMNS = (
    "case_id", "step_position", "step_name", "step_role", "budget_hours", "owner_id", "unit_id",
    "given_by_id", "started_at", "step_started_at", "due_at", "ended_at", "end_kind", "result",
)
PAUSE_COLUMNS = (
    "case_id", "reason", "started_at", "ended_at", "requested_by_id", "ended_by_id", "note",
    "documents", "paused_working_hours",
)
EXTENSION_COLUMNS = (
    "case_id", "issued_by_id", "issued_at", "reason", "responsible_unit_id", "previous_due_at",
    "new_due_at",
)
EVENT_COLUMNS = (
    "case_id", "seq", "kind", "at", "actor_id", "from_status", "to_status", "from_step",
    "to_step", "reason", "data", "prev_hash", "hash",
)
COUNTER_COLUMNS = ("unit_id", "day", "last")
_TABLES = (
    ("cases", CASE_COLUMNS, "case_rows"),
    ("step_assignments", STEP_COLUMNS, "steps"),
    ("pauses", PAUSE_COLUMNS, "pauses"),
    ("extensions", EXTENSION_COLUMNS, "extensions"),
    ("case_events", EVENT_COLUMNS, "events"),
    ("receipt_counters", COUNTER_COLUMNS, "counters"),
)


# Rows in COPY's text format, one writer per table (the hot loop of a load). Strings are safe
# (no tab, newline or backslash: see _nfc), so only NULLs and the timestamps' zone need writing.
def _n(value) -> str:
    return "\\N" if value is None else str(value)


def _z(stamp: str | None) -> str:
    return "\\N" if stamp is None else stamp + "+00"


def _copy_cases(rows: list[tuple]) -> str:
    return "".join([
        f"{a}\t{b}\t{c}\t{d}\t{e}\t{f}\t{g}\t{h}\t\\N\t{j}\t{k}\t{m}\t{n}+00\t{_z(o)}\t"
        f"{_z(p)}\t{_z(q)}\t{_z(r)}\t{_z(s)}\t{_n(t)}\t{u}\t{_n(v)}\t{w}\tf\n"
        for a, b, c, d, e, f, g, h, _, j, k, m, n, o, p, q, r, s, t, u, v, w in rows
    ])


def _copy_steps(rows: list[tuple]) -> str:
    return "".join([
        f"{a}\t{b}\t{c}\t{d}\t{e}\t{f}\t{g}\t{_n(h)}\t{i}+00\t{j}+00\t{k}+00\t{_z(m)}\t"
        f"{_n(n)}\t{_n(o)}\n"
        for a, b, c, d, e, f, g, h, i, j, k, m, n, o in rows
    ])


def _copy_events(rows: list[tuple]) -> str:
    return "".join([
        f"{a}\t{b}\t{c}\t{d}+00\t{_n(e)}\t{_n(f)}\t{g}\t{_n(h)}\t{_n(i)}\t{_n(j)}\t{k}\t"
        f"{_n(m)}\t{n}\n"
        for a, b, c, d, e, f, g, h, i, j, k, m, n in rows
    ])


def _copy_any(stamps: set[int]) -> Callable[[list[tuple]], str]:
    def write(rows: list[tuple]) -> str:
        return "".join([
            "\t".join(
                "\\N" if v is None else (v + "+00" if i in stamps else str(v))
                for i, v in enumerate(row)
            ) + "\n"
            for row in rows
        ])
    return write


_COPY_WRITERS = {
    "cases": _copy_cases,
    "step_assignments": _copy_steps,
    "pauses": _copy_any({2, 3}),
    "extensions": _copy_any({2, 5, 6}),
    "case_events": _copy_events,
    "receipt_counters": _copy_any(set()),
}


class _PostgresSink:
    """COPY from a writer thread, so that PostgreSQL ingests one chunk while the next one is
    generated; at most two chunks wait in memory."""

    def __init__(self, session: Session, summary: SyntheticSummary, row_checks: bool) -> None:
        self.session = session
        self.summary = summary
        self.triggers_off = not row_checks and self._set_triggers_aside()
        summary.row_checks = not self.triggers_off
        self.raw = session.connection().connection.driver_connection
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="synthetic-copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            started = _time.perf_counter()
            try:
                with self.raw.cursor() as cursor:
                    for table, columns, payload in item:
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                            cp.write(payload)
            except Exception as exc:  # noqa: BLE001 - handed back to the generating thread
                self.error = exc
            self.summary.write_seconds += _time.perf_counter() - started

    def write(self, chunk: _Chunk) -> None:
        if self.error is not None:
            raise self.error
        payloads = [
            (table, columns, _COPY_WRITERS[table](getattr(chunk, attr)))
            for table, columns, attr in _TABLES
            if getattr(chunk, attr)
        ]
        started = _time.perf_counter()
        self.queue.put(payloads)
        self.summary.wait_seconds += _time.perf_counter() - started

    def close(self) -> None:
        started = _time.perf_counter()
        self.queue.put(None)
        self.thread.join()
        self.summary.wait_seconds += _time.perf_counter() - started
        if self.error is not None:
            raise self.error

    def _set_triggers_aside(self) -> bool:
        try:
            with self.session.begin_nested():  # a refusal must not end the transaction
                self.session.execute(text("SET LOCAL session_replication_role = replica"))
        except DBAPIError:
            return False
        return True

    def finish(self) -> None:
        s = self.session
        if self.triggers_off:
            s.execute(text("SET LOCAL session_replication_role = DEFAULT"))
            started = _time.perf_counter()
            _check_references(s)
            self.summary.check_seconds = _time.perf_counter() - started
        # Ids were given explicitly: move the sequence past them.
        s.execute(text(
            "SELECT setval(pg_get_serial_sequence('cases', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM cases), false)"
        ))
        # Fresh statistics, or the planner takes the loaded tables for empty ones until
        # autovacuum comes round.
        started = _time.perf_counter()
        s.execute(text(f"ANALYZE {', '.join(table for table, _, _ in _TABLES)}"))
        self.summary.analyze_seconds = _time.perf_counter() - started


# Every foreign key the load writes, checked once over the whole load when the per-row
# triggers were set aside: (table, column, referenced table).
REFERENCES = (
    ("cases", "unit_id", "units"), ("cases", "procedure_id", "procedures"),
    ("step_assignments", "owner_id", "officers"), ("step_assignments", "unit_id", "units"),
    ("step_assignments", "given_by_id", "officers"), ("pauses", "requested_by_id", "officers"),
    ("pauses", "ended_by_id", "officers"), ("extensions", "issued_by_id", "officers"),
    ("extensions", "responsible_unit_id", "units"), ("case_events", "actor_id", "officers"),
    ("receipt_counters", "unit_id", "units"),
)
CASE_CHILDREN = ("step_assignments", "pauses", "extensions", "case_events")


def _check_references(session: Session) -> None:
    """Raise if any row of the load points at nothing. Officers, units and procedures are
    small: one scan per table against their hashed ids. Cases are not: their ids are one
    contiguous range, so each child's case_id only has to fall inside it (index min/max)."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, parent in REFERENCES:
        tables.setdefault(table, []).append((column, parent))
    bad: list[str] = []
    for table, refs in tables.items():
        counts = session.execute(text(
            "SELECT " + ", ".join(
                f"count(*) FILTER (WHERE {column} NOT IN (SELECT id FROM {parent}))"
                for column, parent in refs
            ) + f" FROM {table}"
        )).one()
        bad += [f"{table}.{column}" for (column, _), n in zip(refs, counts, strict=True) if n]
    first, last, count = session.execute(text("SELECT min(id), max(id), count(*) FROM cases")).one()
    contiguous = count == 0 or last - first + 1 == count
    for table in CASE_CHILDREN:
        low, high = session.execute(text(f"SELECT min(case_id), max(case_id) FROM {table}")).one()
        if low is None:
            continue
        if contiguous and first <= low and high <= last:
            continue
        orphans = session.scalar(text(
            f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM cases c WHERE c.id = t.case_id)"
        ))
        if orphans:
            bad.append(f"{table}.case_id")
    if bad:
        raise RuntimeError(f"synthetic load wrote dangling references: {', '.join(bad)}")


class _SQLiteSink:
    def __init__(self, session: Session, summary: SyntheticSummary) -> None:
        self.session = session
        self.summary = summary
        self.raw = session.connection().connection.driver_connection

    def write(self, chunk: _Chunk) -> None:
        started = _time.perf_counter()
        cursor = self.raw.cursor()
        for table, columns, attr in _TABLES:
            rows = getattr(chunk, attr)
            if table == "cases":
                rows = [(*row, 0) for row in rows]
            if rows:
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    rows,
                )
        cursor.close()
        self.summary.write_seconds += _time.perf_counter() - started

    def close(self) -> None:
        pass

    def finish(self) -> None:
        pass
