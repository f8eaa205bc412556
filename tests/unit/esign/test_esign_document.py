"""The agreement model: its hash, and the limits every field is held to."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from esign import AgreementDocument, DocumentError, Party, Payment
from support.esign import sample_document


def test_content_hash_is_stable_and_follows_the_content() -> None:
    a, b = sample_document(), sample_document()
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64
    changed = dataclasses.replace(a, terms=(*a.terms[:-1], a.terms[-1] + "。"))
    assert changed.content_hash() != a.content_hash()
    assert sample_document("en").content_hash() != a.content_hash()


def test_round_trip_through_dict() -> None:
    doc = sample_document()
    again = AgreementDocument.from_dict(doc.to_dict())
    assert again == doc and again.content_hash() == doc.content_hash()


def test_lists_become_tuples() -> None:
    doc = dataclasses.replace(sample_document(), terms=["一", "二"])  # type: ignore[arg-type]
    assert doc.terms == ("一", "二")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"terms": tuple("x" for _ in range(201))}, "terms_too_many"),
        ({"terms": ("x" * 4001,)}, "term_too_long"),
        ({"terms": ()}, "terms_missing"),
        ({"terms": ("bad\x00byte",)}, "term_invalid"),
        ({"mediator": "王" * 101}, "mediator_too_long"),
        ({"case_number": ""}, "case_number_missing"),
        ({"title": "a\nb"}, "title_invalid"),
        ({"language": "fr"}, "language_invalid"),
        ({"parties": ()}, "parties_count"),
        ({"date": datetime.datetime(2026, 1, 1)}, "date_invalid"),
        ({"recitals": "not a list"}, "recitals_invalid"),
    ],
)
def test_invalid_fields_are_refused_with_a_code(change: dict[str, object], code: str) -> None:
    with pytest.raises(DocumentError) as err:
        dataclasses.replace(sample_document(), **change)  # type: ignore[arg-type]
    assert err.value.code == code
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": "张" * 101}, "party_name_too_long"),
        ({"masked_id": "110105194912310021"}, "party_masked_id_invalid"),  # not masked
        ({"masked_id": "***<script>"}, "party_masked_id_invalid"),
        ({"role": ""}, "party_role_missing"),
    ],
)
def test_invalid_parties(kwargs: dict[str, str], code: str) -> None:
    fields = {"name": "张三", "masked_id": "**************1234", "role": "申请人", **kwargs}
    with pytest.raises(DocumentError) as err:
        Party(**fields)
    assert err.value.code == code


@pytest.mark.parametrize("amount", ["-1", "0", "1.001", "NaN", "1e16", "abc", ""])
def test_invalid_amounts(amount: str) -> None:
    with pytest.raises(DocumentError) as err:
        Payment(amount, "CNY", "一次性", "转账")
    assert err.value.code == "payment_amount_invalid"


def test_invalid_currency() -> None:
    with pytest.raises(DocumentError) as err:
        Payment("1.00", "rmb", "一次性", "转账")
    assert err.value.code == "payment_currency_invalid"


def test_malformed_dict() -> None:
    with pytest.raises(DocumentError) as err:
        AgreementDocument.from_dict({"case_number": "x"})
    assert err.value.code == "document_invalid"
