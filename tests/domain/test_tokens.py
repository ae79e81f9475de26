"""API tokens: stored hashed, shown once, verified, revoked."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from onestop.clock import frozen_at
from onestop.errors import InvalidTransition, NotFound
from onestop.tokens import (
    ApiToken,
    Unauthenticated,
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)
from tests.conftest import vn
from tests.factories import build_world


@pytest.fixture
def world(session):
    with frozen_at(vn(2026, 3, 2, 8, 0)):
        return build_world(session)


def test_only_the_hash_and_a_prefix_of_a_new_token_are_stored(session, world):
    row, token = create_token(session, world.desk, "portal")
    stored = session.scalar(select(ApiToken).where(ApiToken.id == row.id))
    assert len(token) >= 43
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(stored.prefix) and len(stored.prefix) == 8
    assert token not in (stored.token_hash, stored.label)
    assert stored.label == "portal" and stored.revoked_at is None


def test_a_token_authenticates_its_officer_and_records_its_use(session, world):
    with frozen_at(vn(2026, 3, 2, 9, 0)):
        row, token = create_token(session, "civ")
        assert verify_token(session, token).username == "civ"
    assert row.last_used_at == vn(2026, 3, 2, 9, 0)


def test_last_use_is_recorded_once_a_minute_not_on_every_request(session, world):
    row, token = create_token(session, world.desk)
    with frozen_at(vn(2026, 3, 2, 9, 0)) as clock:
        verify_token(session, token)
        clock.set(vn(2026, 3, 2, 9, 0, 30))
        verify_token(session, token)
        assert row.last_used_at == vn(2026, 3, 2, 9, 0)
        clock.set(vn(2026, 3, 2, 9, 1, 0))
        verify_token(session, token)
        assert row.last_used_at == vn(2026, 3, 2, 9, 1)


@pytest.mark.parametrize("token", ["", "nope", "x" * 500, None, 42])
def test_unknown_or_malformed_tokens_are_refused(session, world, token):
    create_token(session, world.desk)
    with pytest.raises(Unauthenticated) as refused:
        verify_token(session, token)
    assert refused.value.http_status == 401


def test_a_revoked_token_stops_working_and_cannot_be_revoked_twice(session, world):
    row, token = create_token(session, world.desk)
    revoke_token(session, row.prefix)
    with pytest.raises(Unauthenticated) as refused:
        verify_token(session, token)
    assert refused.value.code == "token_revoked"
    with pytest.raises(InvalidTransition):
        revoke_token(session, row.prefix)


def test_revoking_an_unknown_prefix_says_so(session, world):
    with pytest.raises(NotFound) as missing:
        revoke_token(session, "zzzzzzzz")
    assert "zzzzzzzz" in missing.value.message("en")


def test_a_disabled_officers_tokens_stop_working(session, world):
    _row, token = create_token(session, world.civ)
    world.civ.active = False
    session.flush()
    with pytest.raises(Unauthenticated):
        verify_token(session, token)


def test_each_token_is_distinct_and_listed_per_officer(session, world):
    tokens = {create_token(session, world.desk)[1] for _ in range(5)}
    create_token(session, world.civ)
    assert len(tokens) == 5
    assert len(list_tokens(session, world.desk)) == 5
    assert len(list_tokens(session)) == 6


def test_creating_a_token_for_an_unknown_officer_is_refused(session, world):
    with pytest.raises(NotFound):
        create_token(session, "nobody")
    assert list_tokens(session) == []

