"""Demo data: a province, three communes, their officers and months of cases.

`seed_demo` fills an empty database with a world that looks like a real one-stop desk: the
bundled catalogue, officers for every role its steps name, and a few thousand cases driven
through the real lifecycle operations under a settable clock, so every row, history event and
due instant is exactly what the application itself would have written. The same seed and `now`
give the same database.

Each case is simulated alone, from its arrival to its end (or to `now`, where it stays open),
before the next one starts: the history of a case only ever moves forward in time, which is
all the database demands.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onestop import clock, lifecycle
from onestop.admin import create_officer, create_unit
from onestop.calendar import WorkCalendar
from onestop.calendar_store import work_calendar
from onestop.catalogue import bundled_catalogue, load_catalogue
from onestop.classification import compare_end
from onestop.errors import InvalidTransition, PermissionDenied, ValidationError
from onestop.models import STATUS_CODES, Case, Officer, Procedure, ProcessStep, Unit
from onestop.passwords import hash_password
from onestop.settings import Policy

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "seed_demo"]

DEMO_PASSWORD = "demo-onestop"

# The log-ins the README documents: (username, role, unit code). All share DEMO_PASSWORD.
DEMO_LOGINS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin", "HN"),
    ("chutich.hanoi", "chair", "HN"),
    ("thanhtra.hanoi", "inspector", "HN"),
    ("chutich.minhphu", "chair", "XA-MP"),
    ("truongphong.tp.minhphu", "unit_head", "XA-MP-TP"),
    ("tp.minhphu", "civil_status_officer", "XA-MP-TP"),
    ("mc.minhphu", "desk", "XA-MP-MC"),
)

# --- the organisation -------------------------------------------------------------------------

PROVINCE = ("HN", "Thành phố Hà Nội")
# Province-level bodies that take steps of commune cases (lifecycle.SERVING_KINDS). The
# natural-resources department merged into the Department of Agriculture and Environment in
# 2025; the code keeps the older, better-known abbreviation.
PROVINCE_BODIES = (
    ("HN-VPDK", "Văn phòng Đăng ký đất đai Hà Nội", "agency"),
    ("HN-STNMT", "Sở Nông nghiệp và Môi trường Hà Nội", "department"),
    ("HN-BHXH", "Bảo hiểm xã hội thành phố Hà Nội", "agency"),
)
# Districts ended on 30/6/2025; old data still names them, so the tree keeps one, dated.
HISTORICAL_DISTRICT = ("HU-SS", "Huyện Sóc Sơn (cũ)", date(2008, 8, 1), date(2025, 6, 30))


@dataclass(frozen=True)
class _Commune:
    code: str
    kind: str
    name: str
    place: str
    slug: str
    weight: float
    localities: tuple[str, ...]

    @property
    def urban(self) -> bool:
        return self.kind == "ward"


COMMUNES = (
    _Commune(
        "XA-MP", "commune", "UBND xã Minh Phú", "xã Minh Phú", "minhphu", 0.34,
        ("thôn Đông", "thôn Đoài", "thôn Trung", "thôn Thượng", "thôn Hạ", "thôn Tân Lập"),
    ),
    _Commune(
        "PH-HK", "ward", "UBND phường Hoàn Kiếm", "phường Hoàn Kiếm", "hoankiem", 0.42,
        ("phố Hàng Bạc", "phố Hàng Gai", "phố Hàng Bông", "phố Hàng Đào", "phố Tràng Tiền",
         "phố Lý Thái Tổ", "phố Đinh Tiên Hoàng"),
    ),
    _Commune(
        "XA-SD", "commune", "UBND xã Sóc Sơn", "xã Sóc Sơn", "socson", 0.24,
        ("thôn Đông", "thôn Bắc", "thôn Nam", "thôn Xuân Dục", "thôn Đồng Đầm"),
    ),
)


def _commune_departments(c: _Commune) -> tuple[tuple[str, str, str], ...]:
    """(suffix, name, kind) of the units below a commune."""
    economy = "Phòng Kinh tế, Hạ tầng và Đô thị" if c.urban else "Phòng Kinh tế"
    return (
        ("MC", f"Bộ phận Một cửa {c.place}", "desk"),
        ("TP", f"Tư pháp – Hộ tịch {c.place}", "department"),
        ("KT", f"{economy} {c.place}", "department"),
        ("VHXH", f"Phòng Văn hoá – Xã hội {c.place}", "department"),
        ("CA", f"Công an {c.place}", "department"),
    )


# (username prefix, unit suffix ("" = the commune itself), roles, how many). A number is
# added to the prefix from the second holder on: mc.minhphu, mc2.minhphu, mc3.minhphu.
COMMUNE_STAFF: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("chutich", "", ("chair", "unit_head", "commune_chair"), 1),
    ("phochutich", "", ("commune_vice_chair",), 2),
    ("truongbophan.mc", "MC", ("unit_head",), 1),
    ("mc", "MC", ("desk",), 3),
    ("truongphong.tp", "TP", ("unit_head",), 1),
    ("tp", "TP", ("civil_status_officer",), 2),
    ("ct", "TP", ("justice_officer",), 2),
    ("truongphong.kt", "KT", ("unit_head", "construction_head"), 1),
    ("phophong.kt", "KT", ("construction_head",), 1),
    ("kt", "KT", ("economic_officer",), 2),
    ("diachinh", "KT", ("land_officer",), 2),
    ("xd", "KT", ("construction_officer",), 2),
    ("truongphong.vhxh", "VHXH", ("unit_head",), 1),
    ("vhxh", "VHXH", ("social_officer",), 2),
    ("truongca", "CA", ("unit_head", "police_chief"), 1),
    ("phoca", "CA", ("police_chief",), 1),
    ("ca", "CA", ("police_officer",), 3),
)
PROVINCE_STAFF: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("chutich", "HN", ("chair",), 1),
    ("thanhtra", "HN", ("inspector",), 1),
    ("giamdoc.vpdk", "HN-VPDK", ("unit_head",), 1),
    ("vpdk", "HN-VPDK", ("land_registration_office",), 4),
    ("giamdoc.stnmt", "HN-STNMT", ("unit_head",), 1),
    ("stnmt", "HN-STNMT", ("province_land_department",), 2),
    ("giamdoc.bhxh", "HN-BHXH", ("unit_head",), 1),
    ("bhxh", "HN-BHXH", ("social_insurance_office",), 3),
)

# Where lateness concentrates, so that rankings and escalations have something to show: two
# slow officers and one slow agency (multipliers of the time a step takes).
SLOW_OFFICERS = {"tp2.hoankiem": 2.3, "ca3.socson": 2.0}
SLOW_UNITS = {"HN-VPDK": 1.45}

# --- the cases --------------------------------------------------------------------------------

# Relative popularity, as at real commune desks: certification and civil status dominate.
PROCEDURE_WEIGHTS = {
    "CT-BS": 30, "HT-KS": 13, "CT-CK": 11, "HT-XNHN": 9, "CA-TTR": 6, "HT-KH": 5, "CA-TT": 4,
    "LT-TE6": 4, "HT-KT": 3, "HT-CC": 3, "KD-HKD": 3, "DD-BD": 2.5, "XD-GPXD": 1.5,
    "XH-TCXH": 1.5, "XH-MT": 1, "DD-GCN": 1,
}
# Certification needs the originals on the counter: never online or by post.
IN_PERSON_ONLY = frozenset({"CT-BS", "CT-CK"})
DOCUMENTS = {
    "HT-KS": [("Tờ khai đăng ký khai sinh", "original"), ("Giấy chứng sinh", "original")],
    "HT-KH": [("Tờ khai đăng ký kết hôn", "original"),
              ("Giấy xác nhận tình trạng hôn nhân", "original")],
    "HT-KT": [("Tờ khai đăng ký khai tử", "original"), ("Giấy báo tử", "original")],
    "HT-XNHN": [("Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "original")],
    "HT-CC": [("Tờ khai đăng ký thay đổi, cải chính hộ tịch", "original"),
              ("Giấy tờ làm căn cứ cải chính", "copy")],
    "CT-BS": [("Bản chính giấy tờ", "original"), ("Bản sao cần chứng thực", "copy")],
    "CT-CK": [("Giấy tờ, văn bản cần chứng thực chữ ký", "original")],
    "KD-HKD": [("Giấy đề nghị đăng ký hộ kinh doanh", "original"),
               ("Bản sao Căn cước của chủ hộ kinh doanh", "copy")],
    "CA-TT": [("Tờ khai thay đổi thông tin cư trú (CT01)", "original"),
              ("Giấy tờ chứng minh chỗ ở hợp pháp", "copy")],
    "CA-TTR": [("Tờ khai thay đổi thông tin cư trú (CT01)", "original"),
               ("Giấy tờ chứng minh chỗ ở hợp pháp", "copy")],
    "XD-GPXD": [("Đơn đề nghị cấp giấy phép xây dựng", "original"),
                ("Giấy chứng nhận quyền sử dụng đất", "certified_copy"),
                ("Bản vẽ thiết kế xây dựng", "original")],
    "DD-GCN": [("Đơn đăng ký đất đai, tài sản gắn liền với đất", "original"),
               ("Giấy tờ về quyền sử dụng đất", "copy"),
               ("Mảnh trích đo bản đồ địa chính", "original")],
    "DD-BD": [("Đơn đăng ký biến động đất đai", "original"),
              ("Hợp đồng chuyển nhượng quyền sử dụng đất đã công chứng", "original"),
              ("Giấy chứng nhận đã cấp", "original")],
    "XH-MT": [("Tờ khai đề nghị hỗ trợ chi phí mai táng", "original"),
              ("Bản sao giấy chứng tử", "copy")],
    "XH-TCXH": [("Tờ khai đề nghị trợ giúp xã hội", "original"),
                ("Bản sao Căn cước", "copy")],
    "LT-TE6": [("Tờ khai liên thông", "original"), ("Giấy chứng sinh", "original")],
}
DEFAULT_DOCUMENTS = [("Tờ khai", "original")]
SUPPLEMENTS = (
    ("Bản sao Căn cước không rõ số định danh cá nhân", "Bản sao Căn cước"),
    ("Thiếu giấy tờ chứng minh nơi cư trú", "Giấy xác nhận thông tin về cư trú"),
    ("Tờ khai chưa có chữ ký của người yêu cầu", "Tờ khai (đã ký)"),
    ("Thông tin trên tờ khai không khớp với giấy tờ gốc", "Tờ khai (đã sửa)"),
)
INTAKE_REFUSALS = (
    "Thủ tục không thuộc thẩm quyền giải quyết của {place}",
    "Giấy tờ xuất trình có dấu hiệu tẩy xoá, sửa chữa nội dung",
    "Người yêu cầu không xuất trình được bản chính để đối chiếu",
)
REVIEW_REFUSALS = (
    "Người yêu cầu không đủ điều kiện theo quy định",
    "Kết quả xác minh cho thấy thông tin kê khai không đúng sự thật",
    "Yêu cầu thuộc trường hợp không được giải quyết theo quy định của pháp luật",
)
WITHDRAWALS = (
    "Người nộp hồ sơ có đơn xin rút hồ sơ",
    "Người nộp hồ sơ không còn nhu cầu giải quyết",
)
STOPS = (
    "Cơ quan có thẩm quyền đề nghị dừng giải quyết để xác minh tranh chấp",
    "Có văn bản của cơ quan tố tụng đề nghị tạm dừng giải quyết",
)
ABANDONED = "Quá thời hạn bổ sung mà người nộp hồ sơ không bổ sung, hoàn thiện hồ sơ"
LEGAL_GROUND = "Nghị định 118/2025/NĐ-CP"

FAMILY_NAMES = (
    ("Nguyễn", 31), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 5), ("Vũ", 4),
    ("Phan", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Ngô", 1.3), ("Dương", 1), ("Đinh", 1),
    ("Trịnh", 1), ("Đào", 1), ("Lý", 0.5), ("Mai", 0.5), ("Tạ", 0.4), ("Lương", 0.4),
    ("Kiều", 0.3), ("Nghiêm", 0.2),
)
MIDDLE_NAMES = {
    "m": ("Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Xuân", "Thành", "Tiến", "Mạnh"),
    "f": ("Thị", "Thị", "Thu", "Ngọc", "Thanh", "Minh", "Phương", "Thuỳ", "Hồng", "Kim"),
}
GIVEN_NAMES = {
    "m": ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Huy", "Khánh", "Long", "Nam", "Phong",
          "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Hoàng", "Trung", "Đức", "Hiếu", "Kiên",
          "Lâm", "Nghĩa", "Tài", "Tú", "Vinh", "Hưng", "Toàn"),
    "f": ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai",
          "Nga", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thuỷ", "Trang", "Vân",
          "Yến", "Huyền", "Loan", "Thu", "Hằng"),
}


class _Stop(Exception):
    """The case's timeline reached `now`: it stays as it is."""


@dataclass
class _Plan:
    """What will happen to one case; drawn up front so that rare paths can be guaranteed."""

    arrival: datetime
    commune: _Commune
    procedure: Procedure
    channel: str
    intake: str = "receive"  # receive | refuse | guide
    fate: str = "resolve"  # resolve | withdraw | stop | refuse | abandon
    supplements: int = 0
    payment: bool = False
    reassign: bool = False
    extend: bool = False
    uncollected: bool = False
    # Open at `now` on purpose: a step never finished, or a pause never ended.
    stuck_step: int | None = None
    pending_supplement: bool = False
    pending_payment: bool = False

    @property
    def plain(self) -> bool:
        return (
            self.intake == "receive" and self.fate == "resolve" and not self.supplements
            and not (self.payment or self.reassign or self.extend or self.uncollected)
            and self.stuck_step is None
        )


def _ascii(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(
        ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch)
    )


def seed_demo(
    session: Session, *, seed: int = 2026, months: int = 4, now: datetime | None = None,
    cases_per_month: int = 600,
) -> str:
    """Fill an empty database with the demo world and return a short summary.

    Deterministic for a given `seed`, `now` and volume. `now` (default: the current instant)
    ends the simulated period of `months`; cases still running then stay open. Nothing is
    committed: the caller's transaction decides.
    """
    if session.scalar(select(Unit.id).limit(1)) is not None:
        raise ValidationError(
            "invalid_value", field="database",
            detail="the database is not empty; the demo only fills an empty database",
        )
    if months < 1 or cases_per_month < 0:
        raise ValidationError(
            "invalid_value", field="months", detail="at least 1 month, a non-negative volume"
        )
    now = now or clock.now()
    if now.tzinfo is None:
        raise ValueError("naive datetime: give `now` with its time zone")
    return _Seeder(session, random.Random(seed), months, now, cases_per_month).run()


class _Seeder:
    def __init__(
        self, session: Session, rng: random.Random, months: int, now: datetime,
        cases_per_month: int,
    ) -> None:
        self.session = session
        self.rng = rng
        self.months = months
        self.cases_per_month = cases_per_month
        self.cal: WorkCalendar = work_calendar(session)
        self.now = now.astimezone(self.cal.zone)
        self.start = self.now - timedelta(days=round(30.44 * months))
        self.policy = Policy.from_env()
        self.units: dict[str, Unit] = {}
        self.officers: dict[str, Officer] = {}
        self.desks: dict[str, list[Officer]] = {}
        self.heads: dict[int, Officer] = {}
        self._eligible_by_key: dict[tuple[int, str], list[Officer]] = {}
        self._names: set[str] = set()
        self.clk: clock.SettableClock | None = None

    # --- the world ---------------------------------------------------------------------------

    def run(self) -> str:
        # The organisation and catalogue exist a week before the first case.
        with clock.frozen_at(self.start - timedelta(days=7)):
            self._organisation()
            self._staff()
            procedures = self._catalogue()
        plans = self._plans(procedures)
        with clock.frozen_at(self.start) as clk:
            self.clk = clk
            for plan in plans:
                try:
                    self._simulate(plan)
                except _Stop:
                    pass
        self.session.flush()
        return self._summary()

    def _organisation(self) -> None:
        s = self.session
        code, name = PROVINCE
        self.units[code] = create_unit(s, code, name, kind="province")
        for body_code, body_name, kind in PROVINCE_BODIES:
            self.units[body_code] = create_unit(
                s, body_code, body_name, kind=kind, parent_code=code
            )
        d_code, d_name, d_from, d_to = HISTORICAL_DISTRICT
        self.units[d_code] = create_unit(
            s, d_code, d_name, kind="district", parent_code=code, effective_from=d_from,
            effective_to=d_to,
        )
        for c in COMMUNES:
            self.units[c.code] = create_unit(s, c.code, c.name, kind=c.kind, parent_code=code)
            for suffix, dept_name, kind in _commune_departments(c):
                dept = f"{c.code}-{suffix}"
                self.units[dept] = create_unit(s, dept, dept_name, kind=kind, parent_code=c.code)

    def _person(self) -> tuple[str, str]:
        """A Vietnamese full name (NFC) and its sex, m or f."""
        rng = self.rng
        sex = "f" if rng.random() < 0.52 else "m"
        family = rng.choices([f for f, _ in FAMILY_NAMES], [w for _, w in FAMILY_NAMES])[0]
        name = f"{family} {rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"
        return unicodedata.normalize("NFC", name), sex

    def _officer_name(self) -> str:
        while True:  # distinct names keep pickers and rankings unambiguous
            name, _ = self._person()
            if name not in self._names:
                self._names.add(name)
                return name

    def _add_officer(self, username: str, unit_code: str, roles: tuple[str, ...]) -> None:
        officer = create_officer(
            self.session, username, self._officer_name(), unit_code=unit_code, roles=roles,
            email=f"{username}@demo.onestop.vn",
        )
        self.officers[username] = officer

    def _staff(self) -> None:
        self._add_officer("admin", "HN", ("admin",))
        for prefix, unit_code, roles, count in PROVINCE_STAFF:
            for n in range(1, count + 1):
                self._add_officer(f"{prefix}{n if n > 1 else ''}.hanoi", unit_code, roles)
        for c in COMMUNES:
            for prefix, suffix, roles, count in COMMUNE_STAFF:
                unit_code = f"{c.code}-{suffix}" if suffix else c.code
                for n in range(1, count + 1):
                    self._add_officer(f"{prefix}{n if n > 1 else ''}.{c.slug}", unit_code, roles)
        # argon2 is slow by design: hash the shared demo password once.
        password_hash = hash_password(DEMO_PASSWORD)
        for officer in self.officers.values():
            officer.password_hash = password_hash
            for held in officer.roles:
                if held.role == "unit_head":
                    self.heads.setdefault(held.unit.id, officer)
        for c in COMMUNES:
            self.desks[c.code] = [
                o for o in self.officers.values()
                if any(r.role == "desk" and r.unit.code == f"{c.code}-MC" for r in o.roles)
            ]
        self.session.flush()

    def _catalogue(self) -> dict[str, Procedure]:
        load_catalogue(self.session, bundled_catalogue())
        procedures = self.session.scalars(
            select(Procedure).where(Procedure.active.is_(True)).order_by(Procedure.code)
        ).all()
        return {p.code: p for p in procedures}

    # --- the plan ----------------------------------------------------------------------------

    def _working_days(self) -> tuple[list[date], list[float]]:
        days, weights = [], []
        day = self.start.date()
        while day <= self.now.date():
            if self.cal.is_working_day(day):
                days.append(day)
                # Mondays are busiest; exchanged Saturdays quieter.
                weights.append((1.25, 1.1, 1.0, 1.0, 0.95, 0.8, 0.8)[day.weekday()])
            day += timedelta(days=1)
        return days, weights

    def _at_local(self, day: date, seconds: float) -> datetime:
        midnight = datetime.combine(day, time(0), tzinfo=self.cal.zone)
        return midnight + timedelta(seconds=int(seconds))

    def _arrival(self, channel: str, days: list[date], cum: list[float]) -> datetime:
        rng = self.rng
        for _ in range(1000):
            if channel == "online" and rng.random() < 0.35:
                # Online dossiers arrive at any hour, on any day.
                span_days = (self.now - self.start).days + 1
                day = self.start.date() + timedelta(days=rng.randrange(span_days))
                if self.cal.is_working_day(day):
                    seconds = rng.choice((rng.uniform(17.2, 23.5), rng.uniform(5.5, 7.9))) * 3600
                else:
                    seconds = rng.uniform(7, 22.5) * 3600
            else:
                day = rng.choices(days, cum_weights=cum)[0]
                # Mornings are busier than afternoons; the queue thins before closing.
                if rng.random() < 0.6:
                    seconds = (8 + rng.triangular(0, 3.9, 1.2)) * 3600
                else:
                    seconds = (13 + rng.triangular(0, 3.9, 1.0)) * 3600
            instant = self._at_local(day, seconds)
            if self.start <= instant < self.now:
                return instant
        return self.cal.next_opening(self.start)  # unreachable in practice: a safe receipt

    def _plans(self, procedures: dict[str, Procedure]) -> list[_Plan]:
        rng = self.rng
        total = round(self.cases_per_month * self.months)
        days, weights = self._working_days()
        cum = list(_accumulate(weights))
        codes = list(procedures)
        plans = []
        for _ in range(total):
            commune = rng.choices(COMMUNES, [c.weight for c in COMMUNES])[0]
            code = rng.choices(codes, [self._weight(code, commune) for code in codes])[0]
            procedure = procedures[code]
            if code in IN_PERSON_ONLY:
                channel = "in_person"
            else:
                channel = rng.choices(("in_person", "online", "post"), (0.76, 0.19, 0.05))[0]
            plan = _Plan(self._arrival(channel, days, cum), commune, procedure, channel)
            self._draw_fate(plan)
            plans.append(plan)
        plans.sort(key=lambda p: p.arrival)
        if plans:
            self._guarantee_paths(plans, procedures)
            self._guarantee_open_states(plans, procedures)
        return plans

    def _weight(self, code: str, commune: _Commune) -> float:
        weight = PROCEDURE_WEIGHTS.get(code, 1.0)
        if commune.urban and code in ("DD-GCN", "XD-GPXD"):
            weight *= 0.3  # little unregistered land or new building in the old quarter
        return weight

    def _draw_fate(self, plan: _Plan) -> None:
        rng = self.rng
        r = rng.random()
        refuse, guide = (0.02, 0.045) if plan.channel == "in_person" else (0.03, 0.06)
        if r < refuse:
            plan.intake = "refuse"
            return
        if r < refuse + guide:
            plan.intake = "guide"
            return
        same_day = plan.procedure.duration_unit == "same_day"
        if rng.random() < (0.04 if same_day else 0.12):
            plan.supplements = 2 if rng.random() < 0.15 else 1
            if rng.random() < 0.1:
                plan.fate = "abandon"
        r = rng.random()
        if plan.fate == "resolve":
            if r < 0.012:
                plan.fate = "withdraw"
            elif r < 0.018:
                plan.fate = "stop"
            elif r < 0.038:
                plan.fate = "refuse"
        plan.payment = plan.procedure.code.startswith("DD-") and rng.random() < 0.75
        plan.reassign = rng.random() < 0.02
        plan.uncollected = plan.channel == "in_person" and rng.random() < 0.012

    def _guarantee_paths(self, plans: list[_Plan], procedures: dict[str, Procedure]) -> None:
        """Every path of the lifecycle appears at least once, whatever the volume: converted
        from plain cases old enough (in working hours before `now`) to have run their course."""
        rng = self.rng
        age = {id(p): self.cal.working_hours_between(p.arrival, self.now) for p in plans}
        long_ones = [c for c in ("CA-TT", "XH-TCXH", "DD-BD") if c in procedures]

        def resolving(p: _Plan) -> bool:
            return p.intake == "receive" and p.fate == "resolve"

        # path: (already there?, minimum age in working hours)
        wanted = {
            "refuse_at_intake": (lambda p: p.intake == "refuse", 8),
            "guided": (lambda p: p.intake == "guide", 8),
            "withdrawn": (lambda p: p.fate == "withdraw", 40),
            "stopped": (lambda p: p.fate == "stop", 40),
            "refused": (lambda p: p.fate == "refuse", 40),
            "two_supplements": (lambda p: resolving(p) and p.supplements == 2, 80),
            "supplement": (lambda p: resolving(p) and p.supplements == 1, 80),
            "payment": (lambda p: resolving(p) and p.payment, 120),
            "reassigned": (lambda p: resolving(p) and p.reassign, 40),
            "extended": (lambda p: p.extend, 24),
            "uncollected": (lambda p: resolving(p) and p.uncollected, 24),
            "abandoned": (lambda p: p.fate == "abandon", 250),
        }
        for path, (present, min_age) in wanted.items():
            if any(present(p) and age[id(p)] >= min_age for p in plans):
                continue
            plain = [p for p in plans if p.plain]
            if not plain:
                break
            # Too few old cases in a small demo: the oldest then, even if it is still running.
            if path == "uncollected":  # only an applicant at the counter can fail to come back
                plain = [p for p in plain if p.channel == "in_person"] or plain
            candidates = [p for p in plain if age[id(p)] >= min_age] or plain[:1]
            p = rng.choice(candidates)
            if path == "refuse_at_intake":
                p.intake = "refuse"
            elif path == "guided":
                p.intake = "guide"
            elif path in ("withdrawn", "stopped", "refused"):
                p.fate = {"withdrawn": "withdraw", "stopped": "stop", "refused": "refuse"}[path]
            elif path == "abandoned":
                p.supplements, p.fate = 1, "abandon"
            elif path == "two_supplements":
                p.supplements = 2
            elif path == "supplement":
                p.supplements = 1
            elif path == "payment" and "DD-BD" in procedures:
                p.procedure, p.payment = procedures["DD-BD"], True
            elif path == "reassigned":
                p.reassign = True
            elif path == "extended" and long_ones:
                # Form 04 needs a working day of notice: only a long procedure leaves room.
                p.procedure, p.extend = procedures[rng.choice(long_ones)], True
            elif path == "uncollected" and p.channel == "in_person":
                p.uncollected = True

    def _expected_state(self, plan: _Plan, procedure: Procedure) -> str:
        """How an in-person case received at its arrival would be classified at `now`,
        if it were still open (the rule of classification._open_state)."""
        due = self.cal.due_at(
            plan.arrival, procedure.duration_unit, procedure.duration_amount,
            procedure.same_day_cutoff,
        )
        if compare_end(self.now, due, procedure.duration_unit, self.cal) == "late":
            return "overdue"
        budget = self.cal.working_hours_between(plan.arrival, due)
        left = self.cal.working_hours_between(self.now, due) if self.now < due else 0.0
        if budget > 0 and left < self.policy.at_risk_share * budget:
            return "at_risk"
        return "within_deadline"

    def _guarantee_open_states(self, plans: list[_Plan], procedures: dict[str, Procedure]) -> None:
        """A few recent cases are still open at `now` in each state the dashboards show
        (within deadline, at risk, overdue, paused, at the desk), whatever the volume."""
        k = max(1, round(len(plans) * 0.004))
        need = {"at_desk": 1, "within_deadline": k, "at_risk": k, "overdue": k,
                "pending_supplement": k, "pending_payment": max(1, k // 2)}
        by_popularity = sorted(procedures.values(), key=lambda p: -PROCEDURE_WEIGHTS.get(p.code, 1))
        processing = [p for p in by_popularity if len(p.steps) > 2]
        for plan in reversed(plans):  # newest first
            if not any(need.values()):
                return
            # Forced cases are received in person: only an arrival in office hours fits.
            if not plan.plain or self.cal.next_opening(plan.arrival) != plan.arrival:
                continue
            elapsed = self.cal.working_hours_between(plan.arrival, self.now)
            if need["at_desk"]:
                plan.channel, plan.stuck_step = "in_person", 1
                need["at_desk"] -= 1
                continue
            if need["pending_supplement"] and 8 <= elapsed <= 40:
                if plan.procedure.duration_unit == "same_day":
                    plan.procedure = procedures.get("HT-XNHN", plan.procedure)
                plan.channel, plan.supplements, plan.pending_supplement = "in_person", 1, True
                need["pending_supplement"] -= 1
                continue
            if need["pending_payment"] and 12 <= elapsed <= 80 and "DD-BD" in procedures:
                plan.channel, plan.procedure = "in_person", procedures["DD-BD"]
                plan.payment, plan.pending_payment = True, True
                need["pending_payment"] -= 1
                continue
            for state in ("at_risk", "overdue", "within_deadline"):
                if not need[state]:
                    continue
                # The drawn procedure first, then the popular ones: the fewest changes.
                for procedure in [plan.procedure, *processing]:
                    if len(procedure.steps) > 2 and self._expected_state(plan, procedure) == state:
                        plan.channel, plan.procedure, plan.stuck_step = "in_person", procedure, 2
                        need[state] -= 1
                        break
                if plan.stuck_step is not None:
                    break

    # --- one case ----------------------------------------------------------------------------

    def _at(self, instant: datetime) -> None:
        if instant > self.now:
            raise _Stop
        assert self.clk is not None
        self.clk.set(instant)

    def _after(self, instant: datetime, hours: float) -> datetime:
        """`hours` of working time after `instant`, to the second."""
        return self.cal.add_working_hours(instant, max(round(hours * 3600), 60) / 3600)

    def _work_hours(self, budget: float, owner: Officer, unit: Unit) -> float:
        """How long an owner holds a step: mostly well within its budget, skewed to the right,
        longer for the slow officers and the slow agency."""
        rng = self.rng
        factor = rng.lognormvariate(math.log(0.55), 0.38)
        factor *= SLOW_OFFICERS.get(owner.username, 1.0) * SLOW_UNITS.get(unit.code, 1.0)
        if rng.random() < 0.015:
            factor *= rng.uniform(1.8, 3.5)  # a dossier forgotten in a pile
        return max(budget * factor, 0.05)

    def _eligible(self, case: Case, step: ProcessStep) -> list[Officer]:
        unit = lifecycle.step_unit(self.session, case, step)
        key = (unit.id, step.role)
        if key not in self._eligible_by_key:
            # Sorted by username: the database's name collation differs between backends.
            found = lifecycle.eligible_owners(self.session, case, step)
            self._eligible_by_key[key] = sorted(found, key=lambda o: o.username)
        return self._eligible_by_key[key]

    def _pick(self, case: Case, step: ProcessStep, plan: _Plan) -> Officer:
        candidates = self._eligible(case, step)
        if not candidates:
            raise RuntimeError(f"no officer holds {step.role} for {case.unit.code}")
        if plan.stuck_step == step.position:
            slow = [o for o in candidates if o.username in SLOW_OFFICERS]
            if slow:
                return slow[0]
        return self.rng.choice(candidates)

    def _applicant(self, commune: _Commune, channel: str) -> dict[str, str]:
        rng = self.rng
        name, sex = self._person()
        year = rng.randint(1950, 2005)
        century = (0 if year < 2000 else 2) + (1 if sex == "f" else 0)
        place = rng.choice(commune.localities)
        address = (
            f"Số {rng.randint(1, 120)} {place}, {commune.place}, Thành phố Hà Nội"
            if commune.urban else f"{place}, {commune.place}, Thành phố Hà Nội"
        )
        applicant = {
            "name": name,
            "id_number": f"001{century}{year % 100:02d}{rng.randrange(10**6):06d}",
            "phone": rng.choice(("09", "03", "08", "07")) + f"{rng.randrange(10**8):08d}",
            "address": address,
        }
        if channel == "online" or rng.random() < 0.2:
            handle = _ascii(name.split()[-1]).lower()
            applicant["email"] = f"{handle}{rng.randrange(10, 9999)}@gmail.com"
        return applicant

    def _documents(self, procedure: Procedure) -> list[dict]:
        docs = DOCUMENTS.get(procedure.code, DEFAULT_DOCUMENTS)
        return [
            {"name": name, "form": form,
             "count": self.rng.randint(1, 6) if procedure.code == "CT-BS" and form == "copy" else 1}
            for name, form in docs
        ]

    def _simulate(self, plan: _Plan) -> None:
        s, rng = self.session, self.rng
        commune, procedure = plan.commune, plan.procedure
        desk = rng.choice(self.desks[commune.code])
        intake = {
            "unit_code": commune.code, "procedure_code": procedure.code,
            "applicant": self._applicant(commune, plan.channel), "channel": plan.channel,
            "documents": self._documents(procedure),
        }
        t = plan.arrival
        self._at(t)
        case: Case | None = None
        if plan.channel != "in_person":
            case = lifecycle.register_online(s, **intake)
            t = self._acceptance(t, plan)
            self._at(t)
        if plan.intake == "refuse":
            reason = rng.choice(INTAKE_REFUSALS).format(place=commune.place)
            lifecycle.refuse_at_intake(s, desk, reason, case=case, **({} if case else intake))
            return
        if plan.intake == "guide":
            first = intake["documents"][0]["name"]
            missing = [{"name": first}, {"name": "Bản sao Căn cước", "form": "copy"}]
            lifecycle.guide_to_complete(
                s, desk, missing, "Hồ sơ chưa đủ thành phần theo quy định",
                case=case, **({} if case else intake),
            )
            return
        if case is None:
            case = lifecycle.receive(s, desk, **intake)
        else:
            lifecycle.accept_registered(s, case, desk)

        steps = list(procedure.steps)
        processing = steps[:-1] if len(steps) > 1 else steps
        owner = desk
        returner = desk if rng.random() < 0.85 else rng.choice(self.desks[commune.code])
        for i, step in enumerate(processing):
            t, owner, ended = self._hold_step(case, plan, step, owner, t, first_review=(i == 1))
            if ended:
                return
            self._at(t)
            if i + 1 < len(processing):
                receiver = self._pick(case, processing[i + 1], plan)
                lifecycle.hand_over(s, case, owner, receiver)
                owner = receiver
            elif len(steps) > 1:
                lifecycle.resolve(s, case, owner, to_officer=returner)
            else:
                lifecycle.resolve(s, case, owner)
                returner = owner
        if plan.uncollected:
            return
        # The result reaches the applicant: at once online, by post in a few hours, in person
        # when they come back for it.
        if plan.channel == "online":
            wait = rng.uniform(0.1, 1.5)
        elif plan.channel == "post":
            wait = rng.uniform(1, 4)
        elif procedure.duration_unit == "same_day" and rng.random() < 0.5:
            wait = rng.uniform(0.05, 0.4)  # waited at the counter for the certified copies
        else:
            wait = rng.lognormvariate(math.log(4), 0.9)
        t = self._after(t, wait)
        self._at(t)
        lifecycle.return_result(s, case, returner)

    def _acceptance(self, submitted: datetime, plan: _Plan) -> datetime:
        """When the desk accepts a dossier registered online or by post."""
        rng = self.rng
        opening = self.cal.next_opening(submitted)
        if opening > submitted and plan.channel == "online" and rng.random() < 0.2:
            # The desk officer on duty accepts it the same evening: a receipt after hours.
            return submitted + timedelta(minutes=rng.randint(5, 50))
        return self._after(submitted, rng.lognormvariate(math.log(1.2), 0.7))

    def _hold_step(
        self, case: Case, plan: _Plan, step: ProcessStep, owner: Officer, t: datetime,
        *, first_review: bool,
    ) -> tuple[datetime, Officer, bool]:
        """Simulate one step from its handover: pauses, reassignment, extension, an early end.
        Returns when the owner finishes, the final owner, and whether the case ended here."""
        s, rng, cal = self.session, self.rng, self.cal
        held = case.current_assignment
        assert held is not None
        unit = held.unit
        if plan.stuck_step == step.position:
            raise _Stop  # held and never passed on: the case is open at `now`
        work = self._work_hours(step.budget_hours, owner, unit)
        if step.position == 1 and plan.channel != "online":
            local = cal.next_opening(t).astimezone(cal.zone)
            if local.time() > time(15, 0):
                # A paper dossier received after 15:00 is forwarded the next working day.
                next_day = cal.next_opening(cal.close_of_day(local.date()))
                work = cal.working_hours_between(t, next_day) + rng.uniform(0.05, 0.6)
        if plan.extend and first_review:
            work = max(work, step.budget_hours * 2.5)  # the owner needs more time than allowed
        done = 0.0

        def until(share: float) -> datetime:
            """Work on to `share` of the step's work; the clock moves to that instant."""
            nonlocal done, t
            target = max(work * share, done)
            if target > done:
                t = self._after(t, target - done)
                done = target
            self._at(t)
            return t

        # Form 04: the unit head apologises and sets a new date when the step will overrun the
        # case's due instant, if a working day of notice is still left.
        due = case.due_at
        assert due is not None
        projected = self._after(t, work)
        if case.extension is None and (
            (plan.extend and first_review) or (projected > due and rng.random() < 0.5)
        ):
            candidate = self._after(t, min(1.0, work * 0.2))
            notice = self.policy.extension_notice_working_days * cal.hours_per_day
            head = self.heads.get(unit.id) or self.heads.get(case.unit_id)
            if head is not None and cal.working_hours_between(candidate, due) >= notice + 0.01:
                until(min(1.0, work * 0.2) / work)
                new_due = cal.close_of_day(self._after(max(projected, due), 4).date())
                try:
                    lifecycle.extend(
                        s, case, head,
                        f"Hồ sơ cần thêm thời gian xử lý tại {unit.name}; "
                        "xin lỗi ông/bà vì sự chậm trễ này.",
                        new_due, policy=self.policy,
                    )
                except (InvalidTransition, PermissionDenied, ValidationError):
                    pass  # refused (too late, already extended): the step simply runs late

        if first_review and plan.supplements:
            for n in range(plan.supplements):
                until(rng.uniform(0.15, 0.45) if n == 0 else rng.uniform(0.5, 0.8))
                reason, document = rng.choice(SUPPLEMENTS)
                lifecycle.request_supplement(
                    s, case, owner, reason, [{"name": document, "form": "copy"}]
                )
                if plan.pending_supplement:
                    raise _Stop
                if plan.fate == "abandon" and n == plan.supplements - 1:
                    t = self._after(t, rng.uniform(160, 240))  # a month with no answer
                    self._at(t)
                    lifecycle.stop(s, case, owner, ABANDONED, LEGAL_GROUND)
                    return t, owner, True
                t = self._after(t, rng.lognormvariate(math.log(16), 0.7))
                self._at(t)
                lifecycle.receive_supplement(
                    s, case, rng.choice(self.desks[plan.commune.code]),
                    "Đã nhận đủ giấy tờ bổ sung",
                )

        if plan.payment and step.role == "land_registration_office":
            until(0.05 if plan.pending_payment else rng.uniform(0.5, 0.8))
            lifecycle.pause_for_financial_obligations(
                s, case, owner, "Chờ người sử dụng đất thực hiện nghĩa vụ tài chính"
            )
            if plan.pending_payment:
                raise _Stop
            t = self._after(t, rng.lognormvariate(math.log(24), 0.6))
            self._at(t)
            lifecycle.resume_after_payment(s, case, owner, "Đã nộp thuế, phí, lệ phí")

        # The unit head gives the step to a colleague: when planned, or when a slow officer
        # lets it run past its budget.
        slow_and_late = owner.username in SLOW_OFFICERS and work > step.budget_hours
        if (plan.reassign and first_review) or (slow_and_late and rng.random() < 0.35):
            head = self.heads.get(unit.id)
            others = [
                o for o in self._eligible(case, step)
                if o.id != owner.id
                and any(r.role == step.role and r.unit_id == unit.id for r in o.roles)
            ]
            if head is not None and others:
                share = 0.5 if plan.reassign else min(step.budget_hours / work, 0.95)
                until(share)
                receiver = rng.choice(others)
                try:
                    lifecycle.reassign(
                        s, case, head, receiver, note="Giao lại để bảo đảm đúng hạn"
                    )
                except (InvalidTransition, PermissionDenied):
                    pass
                else:
                    owner = receiver
                    work = done + step.budget_hours * rng.lognormvariate(math.log(0.35), 0.35)

        if first_review and plan.fate in ("withdraw", "stop", "refuse"):
            if plan.fate == "withdraw":
                until(rng.uniform(0.2, 0.9))
                actor = rng.choice(self.desks[plan.commune.code])
                lifecycle.withdraw(s, case, actor, rng.choice(WITHDRAWALS))
            elif plan.fate == "stop":
                until(rng.uniform(0.3, 1.0))
                lifecycle.stop(s, case, owner, rng.choice(STOPS), LEGAL_GROUND)
            else:
                until(1.0)
                lifecycle.refuse_after_review(s, case, owner, rng.choice(REVIEW_REFUSALS))
            return t, owner, True

        if work > done:
            t = self._after(t, work - done)
        return t, owner, False

    # --- the summary -------------------------------------------------------------------------

    def _summary(self) -> str:
        s = self.session
        units = s.scalar(select(func.count()).select_from(Unit))
        officers = s.scalar(select(func.count()).select_from(Officer))
        procedures = s.scalar(select(func.count()).select_from(Procedure))
        by_status = dict(s.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        cases = sum(by_status.values())
        statuses = ", ".join(
            f"{status} {by_status[status]}" for status in STATUS_CODES if status in by_status
        )
        logins = ", ".join(f"{u} ({role} @ {unit})" for u, role, unit in DEMO_LOGINS)
        period = f"{self.start:%d/%m/%Y} to {self.now:%d/%m/%Y %H:%M}"
        return "\n".join((
            f"Demo data: {units} units, {officers} officers, {procedures} procedures, "
            + f"{cases} cases from {period}.",
            f"Cases by status: {statuses}.",
            f"Log in with the password {DEMO_PASSWORD!r} as: {logins}.",
        ))


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total
