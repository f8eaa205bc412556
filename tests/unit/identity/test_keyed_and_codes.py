"""Keyed hashes of ID numbers and codes, and the codes themselves."""

from __future__ import annotations

import re

import pytest

from identitykit import KeyedHasher, new_code

SECRET = b"0123456789abcdef0123456789abcdef"
NUMBER = "11010519491231002X"


def test_an_id_digest_hides_the_number_and_depends_on_the_key() -> None:
    h = KeyedHasher(SECRET)
    digest = h.id_number("resident_id", NUMBER)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert NUMBER not in digest and "1949" not in digest
    assert KeyedHasher(b"another secret of 32 bytes......").id_number("resident_id", NUMBER) != (
        digest
    )


def test_the_same_number_typed_differently_has_the_same_digest() -> None:
    h = KeyedHasher(SECRET)
    digest = h.id_number("resident_id", NUMBER)
    assert h.same(h.id_number("resident_id", "110105 19491231 002x"), digest)
    assert not h.same(h.id_number("resident_id", "110105194912310038"), digest)
    # The same characters as a passport number are another document.
    assert not h.same(h.id_number("passport", NUMBER), digest)


def test_code_digests_are_bound_to_their_owner() -> None:
    h = KeyedHasher(SECRET)
    assert h.code("p1", "123456") == h.code("p1", " 123456 ")
    assert h.code("p1", "123456") != h.code("p2", "123456")
    assert h.code("p1", "123456") != h.id_number("p1", "123456")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        KeyedHasher(b"short")


def test_codes_are_six_digits_and_vary() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes)
    assert len(codes) > 190
