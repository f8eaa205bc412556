"""The agreement's state machine: every move from every state, and the content's validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hearing_server.core.agreement import (
    MAX_TERMS,
    Agreement,
    AgreementContent,
    AgreementParty,
    AgreementState,
    agreement_from_json,
    agreement_to_json,
    check_sign_code,
    content_hash,
    require_sign_code_send,
)
from hearing_server.core.errors import Conflict, DomainError, Forbidden, ValidationError
from hearing_server.core.identity import CodeChallenge, IdentityRules

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
A, B = "p-zhang", "p-li"
DRAFT = {
    "language": "zh-CN",
    "recitals": ["申请人张三与被申请人李四因买卖合同发生纠纷"],
    "terms": ["被申请人于2027年1月31日前支付申请人货款12000元。", "双方再无其他争议。"],
    "payment": {"amount": "12000", "schedule": "一次付清", "method": "银行转账"},
    "costs": "调解费由双方各半负担",
    "agreed_on": "2026-12-07",
}


def fresh() -> Agreement:
    return Agreement(
        id="ag",
        hearing_id="h",
        case={"case_number": "(2026)京0105民调1号"},
        parties=(
            AgreementParty(A, "张三", "**************1234", "applicant"),
            AgreementParty(B, "李四", None, "respondent"),
        ),
    )


def proposed() -> Agreement:
    return fresh().revise(1, "h1").propose()


def accepted() -> Agreement:
    return proposed().accept(A, "h1", T0).accept(B, "h1", T0)


def signing() -> Agreement:
    return accepted().open_signing("pdf0")


def signed() -> Agreement:
    return signing().add_signature(A, "pdf1", T0).add_signature(B, "pdf2", T0)


def sealed() -> Agreement:
    return signed().seal("pdf3", T0)


STATES: dict[AgreementState, Callable[[], Agreement]] = {
    AgreementState.DRAFT: lambda: fresh().revise(1, "h1"),
    AgreementState.PROPOSED: proposed,
    AgreementState.ACCEPTED: accepted,
    AgreementState.SIGNING: signing,
    AgreementState.SIGNED: signed,
    AgreementState.SEALED: sealed,
    AgreementState.CONFIRMATION_REQUESTED: lambda: sealed().request_confirmation(T0),
    AgreementState.NO_AGREEMENT: lambda: proposed().fail("双方分歧过大"),
}

MOVES: dict[str, Callable[[Agreement], Agreement]] = {
    "revise": lambda a: a.revise(a.version + 1, "h2"),
    "propose": lambda a: a.propose(),
    "back_to_draft": lambda a: a.back_to_draft(),
    "accept": lambda a: a.accept(A, a.content_hash or "", T0),
    "request_changes": lambda a: a.request_changes(A, "第一条付款期限请延后", T0),
    "open_signing": lambda a: a.open_signing("pdf"),
    "sign": lambda a: a.add_signature(A, "pdfx", T0),
    "seal": lambda a: a.seal("pdfs", T0),
    "request_confirmation": lambda a: a.request_confirmation(T0),
    "fail": lambda a: a.fail("双方分歧过大"),
}

ALLOWED = {
    AgreementState.DRAFT: {"revise", "propose", "fail"},
    AgreementState.PROPOSED: {"back_to_draft", "accept", "request_changes", "fail"},
    AgreementState.ACCEPTED: {"back_to_draft", "open_signing", "fail"},
    AgreementState.SIGNING: {"sign", "fail"},
    AgreementState.SIGNED: {"seal", "fail"},
    AgreementState.SEALED: {"request_confirmation"},
    AgreementState.CONFIRMATION_REQUESTED: set(),
    AgreementState.NO_AGREEMENT: set(),
}


@pytest.mark.parametrize("state", list(AgreementState))
@pytest.mark.parametrize("move", list(MOVES))
def test_every_move_from_every_state(state: AgreementState, move: str) -> None:
    before = STATES[state]()
    assert before.state is state
    if move in ALLOWED[state]:
        MOVES[move](before)
    else:
        with pytest.raises(Conflict) as info:
            MOVES[move](before)
        assert info.value.code in ("invalid_transition", "already_signed")


def test_the_whole_flow() -> None:
    a = fresh().revise(1, "h1")
    assert not a.visible_to_parties
    a = a.propose()
    assert a.visible_to_parties
    a = a.accept(A, "h1", T0)
    assert a.state is AgreementState.PROPOSED and a.accepted_by() == {A}
    assert a.accept(A, "h1", T0) == a  # accepting twice changes nothing
    a = a.accept(B, "h1", T0)
    assert a.state is AgreementState.ACCEPTED
    a = a.open_signing("pdf1")
    assert a.pdf_revision == 1
    a = a.add_signature(B, "pdf2", T0)  # in the order they sign
    assert a.state is AgreementState.SIGNING and a.pdf_revision == 2
    with pytest.raises(Conflict, match="signed already"):
        a.add_signature(B, "pdf3", T0)
    a = a.add_signature(A, "pdf3", T0)
    assert a.state is AgreementState.SIGNED and [s.revision for s in a.signatures] == [2, 3]
    a = a.seal("pdf4", T0)
    assert a.state is AgreementState.SEALED and a.pdf_sha256 == "pdf4" and a.pdf_revision == 4
    with pytest.raises(Conflict):
        a.fail("too late")


def test_changes_requested_send_it_back_to_draft_and_clear_acceptances() -> None:
    a = proposed().accept(B, "h1", T0).request_changes(A, "请修改第一条", T0)
    assert a.state is AgreementState.DRAFT and a.accepted_by() == frozenset()
    assert a.change_requests[0].comment == "请修改第一条"
    a = a.revise(2, "h2").propose()
    with pytest.raises(Conflict) as info:
        a.accept(A, "h1", T0)  # the old text
    assert info.value.code == "stale_version"


def test_only_parties_accept_sign_or_comment() -> None:
    for move in (
        lambda: proposed().accept("p-mediator", "h1", T0),
        lambda: proposed().request_changes("p-counsel", "x", T0),
        lambda: signing().add_signature("p-stranger", "pdf", T0),
    ):
        with pytest.raises(Forbidden):
            move()


def test_a_stale_revision_number_is_refused() -> None:
    with pytest.raises(Conflict) as info:
        fresh().revise(3, "h3")
    assert info.value.code == "stale_version"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"terms": []}, "invalid_field"),
        ({"terms": ["x"] * (MAX_TERMS + 1)}, "invalid_field"),
        ({"terms": ["x" * 4001]}, "invalid_field"),
        ({"terms": "not a list"}, "invalid_field"),
        ({"terms": [3]}, "invalid_field"),
        ({"terms": ["bell\x07"]}, "invalid_field"),
        ({"recitals": ["\ud800"]}, "invalid_field"),
        ({"language": "fr"}, "invalid_field"),
        ({"agreed_on": "yesterday"}, "invalid_date"),
        ({"payment": {"amount": "-5", "schedule": "x", "method": "y"}}, "invalid_amount"),
        ({"payment": {"amount": "1.234", "schedule": "x", "method": "y"}}, "invalid_amount"),
        ({"payment": {"amount": "1e9", "schedule": "x", "method": "y"}}, "invalid_amount"),
        ({"payment": {"amount": True, "schedule": "x", "method": "y"}}, "invalid_field"),
        ({"payment": {"amount": "5", "schedule": "x"}}, "invalid_field"),
        ({"payment": {"amount": "5", "schedule": "x", "method": "y", "x": 1}}, "unknown_field"),
        ({"payment": []}, "invalid_body"),
        ({"evil": 1}, "unknown_field"),
    ],
)
def test_malformed_drafts_are_refused_clearly(change: dict[str, object], code: str) -> None:
    with pytest.raises(ValidationError) as info:
        AgreementContent.from_json({**DRAFT, **change})
    assert info.value.code == code and info.value.message


def test_content_round_trips_and_its_hash_names_it() -> None:
    content = AgreementContent.from_json(DRAFT)
    assert AgreementContent.from_json(content.to_json()) == content
    assert content.to_json()["payment"]["amount"] == "12000.00"
    parties = fresh().parties
    case = {"case_number": "(2026)京0105民调1号"}
    h = content_hash(content, parties, case)
    assert h == content_hash(AgreementContent.from_json(DRAFT), parties, case)
    changed = AgreementContent.from_json({**DRAFT, "terms": ["被申请人支付12001元。"]})
    assert content_hash(changed, parties, case) != h
    assert content_hash(content, parties[:1], case) != h


def test_stored_form_round_trips() -> None:
    a = signing().with_code(
        A, CodeChallenge("d" * 64, T0, T0 + timedelta(minutes=5), tries=1)
    )
    a = replace(a.add_signature(B, "pdf2", T0), revision=7)
    assert agreement_from_json(agreement_to_json(a)) == a


def test_signing_codes_expire_are_single_use_and_limited() -> None:
    rules = IdentityRules()
    a = signing()
    with pytest.raises(Conflict, match="ask for a signing code"):
        check_sign_code(a, A, lambda d: True, T0, rules)
    a = a.with_code(A, CodeChallenge("good", T0, T0 + rules.code_ttl))
    with pytest.raises(Conflict) as cooldown:
        require_sign_code_send(a, A, T0 + timedelta(seconds=10), rules)
    assert cooldown.value.code == "code_cooldown"
    require_sign_code_send(a, A, T0 + rules.code_resend, rules)
    wrong, ok = check_sign_code(a, A, lambda d: d == "bad", T0, rules)
    assert not ok and wrong.sign_codes[A].tries == 1
    right, ok = check_sign_code(wrong, A, lambda d: d == "good", T0, rules)
    assert ok and right.sign_codes[A].used
    with pytest.raises(Conflict) as replay:
        check_sign_code(right, A, lambda d: True, T0, rules)
    assert replay.value.code == "code_used"
    with pytest.raises(Conflict) as expired:
        check_sign_code(a, A, lambda d: True, T0 + rules.code_ttl, rules)
    assert expired.value.code == "code_expired"
    spent = a
    for _ in range(rules.code_tries):
        spent, _ = check_sign_code(spent, A, lambda d: False, T0, rules)
    with pytest.raises(Conflict) as gone:
        check_sign_code(spent, A, lambda d: True, T0, rules)
    assert gone.value.code == "code_spent"
    with pytest.raises(DomainError):
        check_sign_code(signed(), A, lambda d: True, T0, rules)


def test_no_agreement_needs_a_reason() -> None:
    with pytest.raises(ValidationError):
        proposed().fail("  ")
    assert proposed().fail("分歧过大").no_agreement_reason == "分歧过大"
