"""Loading the procedure catalogue: all or nothing, errors with line and column, versions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from onestop.catalogue import bundled_catalogue, load_catalogue, parse_catalogue
from onestop.clock import frozen_at
from onestop.errors import ValidationError
from onestop.intake import checklist, set_checklist
from onestop.models import Procedure
from tests.conftest import vn

HEADER = "code,name_vi,name_en,field,level,duration_unit,duration_amount,same_day_cutoff,legal_basis,steps_hours\n"
GOOD = "HT-KS,Đăng ký khai sinh,Birth,Hộ tịch,commune,same_day,0,15:00,Luật Hộ tịch,receive:desk:0.5;record:civil_status_officer:2\n"


def test_the_bundled_catalogue_parses_with_its_steps():
    specs = {s.code: s for s in parse_catalogue(bundled_catalogue())}
    assert len(specs) == 16
    birth = specs["HT-KS"]
    assert (birth.duration_unit, birth.same_day_cutoff.hour, birth.steps[1].role) == (
        "same_day", 15, "civil_status_officer",
    )
    land = specs["DD-GCN"]
    assert [s.budget_hours for s in land.steps] == [4, 40, 88, 24, 4]


@pytest.mark.parametrize(
    ("row", "line", "column"),
    [
        ("X,,,,,same_day,0,,,a:desk:1\n", 3, "name_vi"),
        ("X,Tên,,,,weeks,1,,,a:desk:1\n", 3, "duration_unit"),
        ("X,Tên,,,,working_days,abc,,,a:desk:1\n", 3, "duration_amount"),
        ("X,Tên,,,,working_days,-2,,,a:desk:1\n", 3, "duration_amount"),
        ("X,Tên,,,,same_day,0,25:00,,a:desk:1\n", 3, "same_day_cutoff"),
        ("X,Tên,,,,working_days,1,15:00,,a:desk:1\n", 3, "same_day_cutoff"),
        ("X,Tên,,,,working_days,1,,,a-desk-1\n", 3, "steps_hours"),
        ("X,Tên,,,,working_days,1,,,a:desk:6;b:head:3\n", 3, "steps_hours"),
        ("HT-KS,Tên,,,,working_days,1,,,a:desk:1\n", 3, "code"),
    ],
)
def test_a_bad_row_names_its_line_and_column(row, line, column):
    with pytest.raises(ValidationError) as refused:
        parse_catalogue(HEADER + GOOD + row)
    assert (refused.value.params["line"], refused.value.params["column"]) == (line, column)
    assert f"Dòng {line}" in refused.value.message("vi")


def test_missing_columns_and_bad_encoding_are_refused():
    with pytest.raises(ValidationError, match="missing"):
        parse_catalogue("code,name_vi\nX,Tên\n")
    with pytest.raises(ValidationError, match="UTF-8"):
        parse_catalogue((HEADER + GOOD).encode("utf-16"))


def test_loading_is_all_or_nothing(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)), pytest.raises(ValidationError):
        load_catalogue(session, HEADER + GOOD + "X,Tên,,,,weeks,1,,,a:desk:1\n")
    assert session.scalar(sa.select(sa.func.count()).select_from(Procedure)) == 0


def test_reloading_changed_terms_creates_a_new_version_and_keeps_the_old(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        first = load_catalogue(session, HEADER + GOOD)
        again = load_catalogue(session, HEADER + GOOD)
        changed = load_catalogue(session, HEADER + GOOD.replace("15:00", "16:00"))
    assert (first.created, again.unchanged, changed.new_versions) == (("HT-KS",), ("HT-KS",), ("HT-KS",))
    versions = session.execute(
        sa.select(Procedure.version, Procedure.active, Procedure.same_day_cutoff)
        .where(Procedure.code == "HT-KS").order_by(Procedure.version)
    ).all()
    assert [(v, a, c.hour) for v, a, c in versions] == [(1, False, 15), (2, True, 16)]


def test_a_new_version_from_the_file_keeps_the_units_set_on_unchanged_steps(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        load_catalogue(session, HEADER + GOOD)
        first = session.scalar(sa.select(Procedure).where(Procedure.code == "HT-KS"))
        first.steps[0].unit_code, first.steps[1].unit_code = "XA-MP-MC", "XA-MP-TP"  # the editor's
        session.flush()
        load_catalogue(session, HEADER + GOOD.replace("15:00", "16:00").replace("record:", "check:"))
    newest = session.scalar(sa.select(Procedure).where(Procedure.active.is_(True)))
    assert newest.version == 2
    # "receive" is unchanged and keeps its unit; the renamed second step is a new step.
    assert [(s.name, s.unit_code) for s in newest.steps] == [("receive", "XA-MP-MC"), ("check", None)]


# --- fees and document checklists -------------------------------------------------------------

def test_the_bundled_catalogue_ships_fees_and_a_checklist_for_every_procedure():
    specs = {s.code: s for s in parse_catalogue(bundled_catalogue())}
    assert all(spec.documents for spec in specs.values())
    birth = specs["HT-KS"]
    assert [(d.name, d.form, d.count) for d in birth.documents] == [
        ("Tờ khai đăng ký khai sinh", "original", 1), ("Giấy chứng sinh", "original", 1),
    ]
    assert birth.fees.startswith("Miễn lệ phí")
    assert specs["CT-CK"].fees.startswith("10.000 đồng")
    assert ("Bản vẽ thiết kế xây dựng", "original", 2) in [
        (d.name, d.form, d.count) for d in specs["XD-GPXD"].documents
    ]
    assert specs["HT-XNHN"].fees is None  # set by each province: left for the desk to fill in


WITH_EXTRAS = HEADER.rstrip("\n") + ",fees,documents\n"
BIRTH = GOOD.rstrip("\n") + ',Miễn lệ phí,"Tờ khai|bản chính|1;Giấy chứng sinh|bản chính;CCCD của cha, mẹ|bản sao|2"\n'


def test_loading_sets_the_fees_and_the_checklist_with_forms_and_counts(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        report = load_catalogue(session, WITH_EXTRAS + BIRTH)
    assert report.checklists == ("HT-KS",)
    assert session.scalar(sa.select(Procedure.fees)) == "Miễn lệ phí"
    assert [(d.position, d.name, d.form, d.count) for d in checklist(session, "HT-KS")] == [
        (1, "Tờ khai", "original", 1), (2, "Giấy chứng sinh", "original", 1),
        (3, "CCCD của cha, mẹ", "copy", 2),
    ]


def test_an_unchanged_checklist_is_left_alone_and_an_empty_cell_keeps_the_administrators(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        load_catalogue(session, WITH_EXTRAS + BIRTH)
        again = load_catalogue(session, WITH_EXTRAS + BIRTH)
        set_checklist(session, "HT-KS", [{"name": "Tờ khai của xã", "form": "original"}])
        without = load_catalogue(session, WITH_EXTRAS + GOOD.rstrip("\n") + ",Miễn lệ phí,\n")
        old_file = load_catalogue(session, HEADER + GOOD)  # no fees, no documents columns
    assert (again.checklists, again.unchanged) == ((), ("HT-KS",))
    assert (without.checklists, without.unchanged) == ((), ("HT-KS",))
    assert [d.name for d in checklist(session, "HT-KS")] == ["Tờ khai của xã"]
    assert old_file.new_versions == ("HT-KS",)  # the fees went: new terms, a new version
    assert session.scalar(sa.select(Procedure.fees).where(Procedure.active.is_(True))) is None


def test_changed_fees_make_a_new_version(session):
    with frozen_at(vn(2026, 3, 1, 9, 0)):
        load_catalogue(session, WITH_EXTRAS + BIRTH)
        changed = load_catalogue(session, WITH_EXTRAS + BIRTH.replace("Miễn lệ phí", "8.000 đồng/bản"))
    assert changed.new_versions == ("HT-KS",)


@pytest.mark.parametrize("documents", [
    "Tờ khai|photo|1", "Tờ khai|bản chính|0", "Tờ khai|bản chính|x", "|bản chính|1",
    "Tờ khai|bản chính|1|thừa", "x" * 301,
])
def test_a_bad_checklist_names_its_line_and_column_and_loads_nothing(session, documents):
    with frozen_at(vn(2026, 3, 1, 9, 0)), pytest.raises(ValidationError) as refused:
        load_catalogue(session, WITH_EXTRAS + BIRTH + GOOD.replace("HT-KS", "HT-KH").rstrip("\n") + f',,"{documents}"\n')
    assert (refused.value.params["line"], refused.value.params["column"]) == (3, "documents")
    assert session.scalar(sa.select(sa.func.count()).select_from(Procedure)) == 0
    assert checklist(session, "HT-KS") == []
