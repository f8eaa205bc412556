"""The identity policy per role, and the rules of attempts, lockouts and one-time codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.errors import Conflict, Locked, ValidationError
from hearing_server.core.identity import (
    CHECKABLE_STEPS,
    POLICY_PRESETS,
    IdentityOutcome,
    IdentityPolicy,
    IdentityRules,
    IdentityStatus,
    IdentityStep,
    enter_code,
    fail_step,
    issue_code,
    override,
    pass_step,
    require_attempt,
    require_code_send,
)
from hearing_server.core.participant import Role

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
RULES = IdentityRules()
ID, CODE, FACE, LIVE = (
    IdentityStep.ID_NUMBER,
    IdentityStep.CODE,
    IdentityStep.FACE,
    IdentityStep.LIVENESS,
)
ID_AND_CODE = (ID, CODE)


def fresh() -> IdentityStatus:
    return IdentityStatus("p1", "h1")


def matcher(expected: str) -> object:
    return lambda digest: digest == expected


# -- the policy ---------------------------------------------------------------------------------


def test_the_standard_policy_is_the_issues_default() -> None:
    policy = POLICY_PRESETS["standard"]
    for role in (Role.PARTY, Role.COUNSEL, Role.WITNESS, Role.EXPERT, Role.INTERPRETER):
        assert policy.required(role) == (ID, CODE, FACE, LIVE)
    assert policy.required(Role.OBSERVER) == (ID, CODE)
    # Staff are identified by the credential the court issued them.
    for role in (Role.JUDGE, Role.CLERK, Role.MEDIATOR, Role.COURTROOM_DISPLAY):
        assert policy.required(role) == ()


def test_face_and_liveness_are_checked_after_the_code() -> None:
    assert {FACE, LIVE} <= CHECKABLE_STEPS
    required = POLICY_PRESETS["standard"].required(Role.PARTY)
    only_id = pass_step(fresh(), ID, T0)
    with pytest.raises(Conflict) as err:
        require_attempt(only_id, FACE, required, T0)
    assert err.value.code == "step_order"
    status = pass_step(only_id, CODE, T0)
    assert status.pending(required) == (FACE, LIVE)
    require_attempt(status, FACE, required, T0)
    with pytest.raises(Conflict) as err:
        require_attempt(status, LIVE, required, T0)  # the face first
    assert err.value.code == "step_order"
    # The clerk's verification (or the judge's waiver) still gets them past.
    verified = override(status, IdentityOutcome.VERIFIED, "clerk", "视频核对身份证", required, T0)
    assert verified.cleared(required)
    assert verified.override is not None and verified.override.pending == (FACE, LIVE)


def test_policy_from_json_orders_steps_and_refuses_nonsense() -> None:
    policy = IdentityPolicy.from_json({"party": ["code", "id_number"], "witness": []})
    assert policy.required(Role.PARTY) == (ID, CODE)
    assert policy.required(Role.WITNESS) == ()
    assert policy.to_json()["party"] == ["id_number", "code"]
    for bad in (
        {"party": ["retina"]},
        {"party": ["code", "code"]},
        {"judge": ["id_number"]},
        {"nobody": []},
        {"party": "code"},
        [],
    ):
        with pytest.raises(ValidationError):
            IdentityPolicy.from_json(bad)
    assert IdentityPolicy.parse("none").required(Role.PARTY) == ()
    assert IdentityPolicy.parse('{"observer": ["code"]}').required(Role.OBSERVER) == (CODE,)
    with pytest.raises(ValidationError):
        IdentityPolicy.parse("strict")


def test_outcomes_per_role() -> None:
    policy = POLICY_PRESETS["id_and_code"]
    assert fresh().outcome(policy.required(Role.JUDGE)) is IdentityOutcome.NOT_REQUIRED
    required = policy.required(Role.PARTY)
    assert fresh().outcome(required) is IdentityOutcome.PENDING
    assert pass_step(fresh(), ID, T0).outcome(required) is IdentityOutcome.PENDING
    done = pass_step(pass_step(fresh(), ID, T0), CODE, T0)
    assert done.outcome(required) is IdentityOutcome.PASSED and done.cleared(required)


# -- the order of steps and lockouts -------------------------------------------------------------


def test_steps_are_taken_in_order_and_once() -> None:
    with pytest.raises(Conflict) as err:
        require_attempt(fresh(), CODE, ID_AND_CODE, T0)
    assert err.value.code == "step_order"
    with pytest.raises(Conflict) as err:
        require_attempt(fresh(), FACE, ID_AND_CODE, T0)
    assert err.value.code == "step_not_required"
    passed = pass_step(fresh(), ID, T0)
    require_attempt(passed, CODE, ID_AND_CODE, T0)
    with pytest.raises(Conflict) as err:
        require_attempt(passed, ID, ID_AND_CODE, T0)
    assert err.value.code == "step_passed"


def test_five_failures_lock_the_step_for_fifteen_minutes() -> None:
    status = fresh()
    for i in range(4):
        status, locked = fail_step(status, ID, T0, RULES)
        assert not locked and status.record(ID).failures == i + 1
    status, locked = fail_step(status, ID, T0, RULES)
    assert locked and status.locked_until(ID, T0) == T0 + timedelta(minutes=15)
    with pytest.raises(Locked) as err:
        require_attempt(status, ID, ID_AND_CODE, T0 + timedelta(minutes=14, seconds=59))
    assert err.value.code == "identity_locked"
    # After the lock, five more tries.
    require_attempt(status, ID, ID_AND_CODE, T0 + timedelta(minutes=15))
    assert status.record(ID).failures == 0


# -- one-time codes ------------------------------------------------------------------------------


def with_code(at: datetime = T0) -> IdentityStatus:
    return issue_code(pass_step(fresh(), ID, T0), "digest-1", at, RULES)


def test_a_code_passes_once_and_a_replay_is_named() -> None:
    status, passed, locked = enter_code(with_code(), matcher("digest-1"), T0, RULES)
    assert passed and not locked and status.passed(CODE)
    with pytest.raises(Conflict) as err:
        enter_code(status, matcher("digest-1"), T0, RULES)
    assert err.value.code == "code_used"


def test_a_code_expires_after_five_minutes() -> None:
    status = with_code()
    _, passed, _ = enter_code(status, matcher("digest-1"), T0 + timedelta(seconds=299), RULES)
    assert passed
    with pytest.raises(Conflict) as err:
        enter_code(status, matcher("digest-1"), T0 + timedelta(minutes=5), RULES)
    assert err.value.code == "code_expired"


def test_no_code_no_entry() -> None:
    with pytest.raises(Conflict) as err:
        enter_code(pass_step(fresh(), ID, T0), matcher("x"), T0, RULES)
    assert err.value.code == "no_code"


def test_five_wrong_codes_spend_the_code_and_lock_the_step() -> None:
    status = with_code()
    for i in range(4):
        status, passed, locked = enter_code(status, matcher("other"), T0, RULES)
        assert not passed and not locked
        assert status.code is not None and status.code.tries == i + 1
    status, passed, locked = enter_code(status, matcher("other"), T0, RULES)
    assert not passed and locked
    assert status.code is not None and status.code.spent
    with pytest.raises(Conflict) as err:
        enter_code(status, matcher("digest-1"), T0, RULES)
    assert err.value.code == "code_spent"
    with pytest.raises(Locked):
        require_attempt(status, CODE, ID_AND_CODE, T0 + timedelta(minutes=1))


def test_a_new_code_waits_sixty_seconds_and_replaces_the_old_one() -> None:
    status = with_code()
    with pytest.raises(Locked) as err:
        require_code_send(status, T0 + timedelta(seconds=59), RULES)
    assert err.value.code == "code_cooldown"
    later = T0 + timedelta(seconds=60)
    require_code_send(status, later, RULES)
    renewed = issue_code(status, "digest-2", later, RULES)
    _, passed, _ = enter_code(renewed, matcher("digest-1"), later, RULES)
    assert not passed
    _, passed, _ = enter_code(renewed, matcher("digest-2"), later, RULES)
    assert passed


# -- overrides -------------------------------------------------------------------------------------


def test_overrides_need_a_reason_and_someone_not_cleared() -> None:
    with pytest.raises(ValidationError) as err:
        override(fresh(), IdentityOutcome.WAIVED, "judge", "  ", ID_AND_CODE, T0)
    assert err.value.code == "reason_required"
    waived = override(fresh(), IdentityOutcome.WAIVED, "judge", "当庭核对", ID_AND_CODE, T0)
    assert waived.outcome(ID_AND_CODE) is IdentityOutcome.WAIVED
    assert waived.pending(ID_AND_CODE) == ()
    with pytest.raises(Conflict) as err:
        override(waived, IdentityOutcome.VERIFIED, "clerk", "again", ID_AND_CODE, T0)
    assert err.value.code == "identity_cleared"
