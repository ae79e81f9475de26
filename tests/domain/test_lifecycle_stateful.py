"""Random legal and illegal operation sequences keep every invariant of the case lifecycle."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy.orm import Session

from onestop import lifecycle as lc
from onestop.audit import verify_chains
from onestop.clock import SettableClock, use_clock
from onestop.db import make_engine
from onestop.errors import OnestopError
from onestop.models import OPEN_STATUSES, STATUS_CODES, Case, StepAssignment
from tests.conftest import vn
from tests.factories import build_world

OFFICERS = ["desk", "desk2", "civ", "civ2", "head", "vice", "chair", "desk_sd"]
PROCEDURES = ["HT-XNHN", "HT-KS", "CA-TTR"]
# Mostly the officer who may act (the owner, an eligible receiver), sometimes anyone at all.
officer = st.sampled_from(["owner"] * 4 + OFFICERS)
receiver = st.sampled_from(["eligible"] * 4 + OFFICERS)
reason = st.sampled_from(["Thiếu giấy tờ", "", "Theo đề nghị của công dân"])


@pytest.fixture(scope="module")
def template(sqlite_template) -> str:
    return sqlite_template


class CaseLifecycle(RuleBasedStateMachine):
    template_path: str = ""
    statuses_seen: set[str] = set()
    operations_done = 0

    @initialize()
    def setup(self):
        self.folder = tempfile.mkdtemp()
        path = Path(self.folder) / "db.sqlite"
        shutil.copy(self.template_path, path)
        self.engine = make_engine(f"sqlite:///{path}")
        self.session = Session(self.engine, expire_on_commit=False)
        self.clock = SettableClock(vn(2026, 3, 2, 8, 0))
        self._clock_context = use_clock(self.clock)
        self._clock_context.__enter__()
        self.world = build_world(self.session)
        self.session.commit()
        self.cases: list[Case] = []
        self.original_dues: dict[int, object] = {}

    def teardown(self):
        if hasattr(self, "session"):
            self.session.close()
            self.engine.dispose()
            self._clock_context.__exit__(None, None, None)
            shutil.rmtree(self.folder, ignore_errors=True)

    def _attempt(self, operation, *args, **kwargs):
        """Run an operation; a refusal must leave nothing behind."""
        try:
            operation(self.session, *args, **kwargs)
        except OnestopError:
            self.session.rollback()
        else:
            self.session.commit()
            CaseLifecycle.operations_done += 1

    def _case(self, index: int) -> Case | None:
        return self.cases[index % len(self.cases)] if self.cases else None

    def _who(self, name: str, case: Case | None = None, step: int | None = None):
        """Resolve "owner" and "eligible" against the case; other names are officers."""
        current = case.current_assignment if case else None
        if name == "owner" or (name == "eligible" and current is None):
            return current.owner if current else self.world.officers["desk"]
        if name == "eligible":
            target = case.procedure.step_at(step or current.step_position + 1)
            if target is None:
                return current.owner
            candidates = lc.eligible_owners(self.session, case, target)
            return candidates[len(case.assignments) % len(candidates)] if candidates else current.owner
        return self.world.officers[name]

    @rule(minutes=st.integers(1, 60 * 30))
    def time_passes(self, minutes):
        self.clock.set(self.clock.instant + timedelta(minutes=minutes))

    @rule(who=officer, procedure=st.sampled_from(PROCEDURES))
    def receive(self, who, procedure):
        try:
            case = lc.receive(
                self.session, self._who(who), unit_code="XA-MP",
                procedure_code=procedure, applicant={"name": "Nguyễn Văn A"},
            )
        except OnestopError:
            self.session.rollback()
            return
        self.session.commit()
        self.cases.append(case)
        self.original_dues[case.id] = case.original_due_at

    @rule(index=st.integers(0, 50), who=officer, to=receiver, step=st.none() | st.none() | st.integers(1, 5))
    def hand_over(self, index, who, to, step):
        if case := self._case(index):
            self._attempt(lc.hand_over, case, self._who(who, case), self._who(to, case, step), to_step=step)

    @rule(index=st.integers(0, 50))
    def progress(self, index):
        """The legal next move, so that sequences reach every stage of the lifecycle."""
        case = self._case(index)
        if case is None or case.current_assignment is None:
            return
        owner = case.current_assignment.owner
        if case.status == "resolved":
            self._attempt(lc.return_result, case, owner)
        elif case.current_assignment.step_position + 1 < len(case.procedure.steps):
            self._attempt(lc.hand_over, case, owner, self._who("eligible", case))
        else:
            self._attempt(lc.resolve, case, owner)

    @rule(index=st.integers(0, 50), who=officer, to=receiver)
    def reassign(self, index, who, to):
        if case := self._case(index):
            self._attempt(lc.reassign, case, self._who(who, case), self._who(to, case))

    @rule(index=st.integers(0, 50), who=officer, why=reason)
    def request_supplement(self, index, who, why):
        if case := self._case(index):
            self._attempt(lc.request_supplement, case, self._who(who, case), why)

    @rule(index=st.integers(0, 50), who=officer)
    def receive_supplement(self, index, who):
        if case := self._case(index):
            self._attempt(lc.receive_supplement, case, self._who(who, case))

    @rule(index=st.integers(0, 50), who=officer)
    def pause_and_resume_payment(self, index, who):
        if case := self._case(index):
            self._attempt(lc.pause_for_financial_obligations, case, self._who(who, case))
            self._attempt(lc.resume_after_payment, case, self._who(who, case))

    @rule(index=st.integers(0, 50), who=officer, days=st.integers(-2, 10))
    def extend(self, index, who, days):
        if (case := self._case(index)) and case.due_at:
            self._attempt(lc.extend, case, self._who(who, case), "Cần xác minh", case.due_at + timedelta(days=days))

    @rule(index=st.integers(0, 50), who=officer, to=st.none() | receiver)
    def resolve(self, index, who, to):
        if case := self._case(index):
            receiver = self._who(to, case) if to else None
            self._attempt(lc.resolve, case, self._who(who, case), to_officer=receiver)

    @rule(index=st.integers(0, 50), who=officer)
    def return_result(self, index, who):
        if case := self._case(index):
            self._attempt(lc.return_result, case, self._who(who, case))

    @rule(index=st.integers(0, 50), who=officer, why=reason,
          ending=st.sampled_from([lc.refuse_after_review, lc.stop, lc.withdraw]))
    def end(self, index, who, why, ending):
        if case := self._case(index):
            self._attempt(ending, case, self._who(who, case), why)

    @invariant()
    def every_open_case_has_exactly_one_owner_and_closed_cases_none(self):
        if not hasattr(self, "session"):
            return
        open_counts = dict(self.session.execute(
            sa.select(StepAssignment.case_id, sa.func.count())
            .where(StepAssignment.ended_at.is_(None)).group_by(StepAssignment.case_id)
        ).all())
        for case in self.cases:
            expected = 1 if case.status in OPEN_STATUSES or case.status == "resolved" else 0
            assert open_counts.get(case.id, 0) == expected, (case.receipt_code, case.status)

    @invariant()
    def statuses_map_to_codes_and_clock_fields_agree(self):
        for case in getattr(self, "cases", []):
            CaseLifecycle.statuses_seen.add(case.status)
            assert case.status_code == STATUS_CODES[case.status]
            assert case.original_due_at == self.original_dues[case.id]
            finished = case.status in ("resolved", "returned", "refused", "stopped", "withdrawn")
            assert (case.ended_at is not None) == finished
            assert (case.open_pause is not None) == (case.status in ("awaiting_supplement", "awaiting_payment"))
            assert case.due_at >= case.original_due_at
            if case.ended_at is not None:
                assert case.ended_at >= case.received_at

    @invariant()
    def history_is_complete_and_chained(self):
        if not getattr(self, "cases", None):
            return
        checked, broken = verify_chains(self.session)
        assert broken == []
        assert checked == sum(c.last_event_seq for c in self.cases)


def test_random_operation_sequences_keep_the_lifecycle_invariants(template):
    CaseLifecycle.template_path = template
    runner = CaseLifecycle.TestCase
    runner.settings = settings(
        max_examples=60, stateful_step_count=50, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    runner("runTest").runTest()
    # The sequences must reach deep into the lifecycle, not stop at refusals.
    assert CaseLifecycle.operations_done >= 20
    assert {"in_progress", "resolved"} <= CaseLifecycle.statuses_seen
