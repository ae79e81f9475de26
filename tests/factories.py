"""A small, realistic world for tests: one province, two communes, their desks and officers,
and the bundled procedure catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from onestop import lifecycle
from onestop.admin import create_officer, create_unit
from onestop.catalogue import bundled_catalogue, load_catalogue
from onestop.models import Case, Officer, Unit

APPLICANT = {
    "name": "Nguyễn Thị Hoa",
    "id_number": "001190012345",
    "phone": "0912 345 678",
    "address": "Số 5 ngõ 12, thôn Đông, xã Minh Phú",
    "email": "hoa@example.vn",
}


@dataclass
class World:
    session: Session
    units: dict[str, Unit] = field(default_factory=dict)
    officers: dict[str, Officer] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Officer:
        officers = self.__dict__.get("officers", {})
        if name in officers:
            return officers[name]
        raise AttributeError(name)

    def receive(self, procedure_code: str = "HT-XNHN", *, desk: str = "desk", unit: str = "XA-MP",
                **applicant: str) -> Case:
        return lifecycle.receive(
            self.session, self.officers[desk], unit_code=unit, procedure_code=procedure_code,
            applicant={**APPLICANT, **applicant}, channel="in_person",
            documents=[{"name": "Tờ khai", "form": "original", "count": 1}],
        )


def build_world(session: Session) -> World:
    world = World(session)
    for code, name, kind, parent in [
        ("HN", "Thành phố Hà Nội", "province", None),
        ("HN-VPDK", "Văn phòng Đăng ký đất đai Hà Nội", "agency", "HN"),
        ("XA-MP", "UBND xã Minh Phú", "commune", "HN"),
        ("XA-MP-MC", "Bộ phận Một cửa xã Minh Phú", "desk", "XA-MP"),
        ("XA-MP-TP", "Công chức Tư pháp - Hộ tịch xã Minh Phú", "department", "XA-MP"),
        ("XA-SD", "UBND xã Sóc Đông", "commune", "HN"),
        ("XA-SD-MC", "Bộ phận Một cửa xã Sóc Đông", "desk", "XA-SD"),
    ]:
        world.units[code] = create_unit(session, code, name, kind=kind, parent_code=parent)
    for username, name, unit, roles in [
        ("desk", "Trần Văn An", "XA-MP-MC", ["desk"]),
        ("desk2", "Lê Thị Bình", "XA-MP-MC", ["desk"]),
        ("civ", "Phạm Minh Châu", "XA-MP-TP", ["civil_status_officer"]),
        ("civ2", "Hoàng Văn Dũng", "XA-MP-TP", ["civil_status_officer"]),
        ("head", "Đỗ Thị Hạnh", "XA-MP-TP", ["unit_head"]),
        ("vice", "Vũ Quang Khải", "XA-MP", ["commune_vice_chair"]),
        ("chair", "Ngô Văn Long", "XA-MP", ["chair", "unit_head"]),
        ("land", "Bùi Thị Mai", "HN-VPDK", ["land_registration_office"]),
        ("desk_sd", "Đinh Văn Nam", "XA-SD-MC", ["desk"]),
        ("civ_sd", "Lý Thị Oanh", "XA-SD", ["civil_status_officer"]),
    ]:
        world.officers[username] = create_officer(
            session, username, name, unit_code=unit, roles=roles
        )
    load_catalogue(session, bundled_catalogue())
    session.flush()
    return world
