"""GB 11643-1999: the check digit, the birth date and the region code of a resident ID."""

from __future__ import annotations

from datetime import date

import pytest

from identitykit import ResidentIdError, ResidentIdProblem, check_digit, validate_resident_id

# The worked example of GB 11643-1999 itself: its check character is X.
STANDARD_EXAMPLE = "11010519491231002X"
TODAY = date(2026, 6, 1)


def make(body17: str) -> str:
    return body17 + check_digit(body17)


def test_the_standards_own_example_is_valid() -> None:
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"
    assert validate_resident_id(STANDARD_EXAMPLE, today=TODAY) == STANDARD_EXAMPLE


@pytest.mark.parametrize(
    "number",
    [
        make("44030619900307123"),  # Shenzhen, 1990
        make("65010220000229004"),  # Urumqi, born on a leap day
        make("81000019851115003"),  # Hong Kong residence permit
    ],
)
def test_valid_numbers(number: str) -> None:
    assert validate_resident_id(number, today=TODAY) == number


def test_lower_case_x_and_spaces_are_accepted_and_normalised() -> None:
    typed = " 110105 19491231 002x "
    assert validate_resident_id(typed, today=TODAY) == STANDARD_EXAMPLE


@pytest.mark.parametrize("wrong", [c for c in "0123456789X" if c != "X"])
def test_every_wrong_check_digit_is_caught(wrong: str) -> None:
    with pytest.raises(ResidentIdError) as err:
        validate_resident_id(STANDARD_EXAMPLE[:17] + wrong, today=TODAY)
    assert err.value.problem is ResidentIdProblem.CHECK_DIGIT
    assert "mistyped" in err.value.message


def test_a_swapped_pair_of_digits_is_caught_as_a_typo() -> None:
    good = make("44030619900307123")
    swapped = good[:14] + good[15] + good[14] + good[16:]
    with pytest.raises(ResidentIdError) as err:
        validate_resident_id(swapped, today=TODAY)
    assert err.value.problem is ResidentIdProblem.CHECK_DIGIT


@pytest.mark.parametrize(
    "body",
    [
        "11010519490230002",  # 30 February
        "11010519491332002",  # month 13
        "11010519490000002",  # day 0
        "11010518800101002",  # 1880: nobody that old holds a card
        "11010520270101002",  # born after "today"
    ],
)
def test_bad_birth_dates(body: str) -> None:
    with pytest.raises(ResidentIdError) as err:
        validate_resident_id(make(body), today=TODAY)
    assert err.value.problem is ResidentIdProblem.BIRTH_DATE


@pytest.mark.parametrize("region", ["00", "10", "20", "39", "66", "70", "83", "99"])
def test_bad_region_codes(region: str) -> None:
    with pytest.raises(ResidentIdError) as err:
        validate_resident_id(make(region + "010519491231002"), today=TODAY)
    assert err.value.problem is ResidentIdProblem.REGION


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("1101051949123100", ResidentIdProblem.LENGTH),
        ("11010519491231002X1", ResidentIdProblem.LENGTH),
        ("", ResidentIdProblem.LENGTH),
        ("1101051949123100XX", ResidentIdProblem.CHARACTERS),
        ("11010519491231002Y", ResidentIdProblem.CHARACTERS),
        ("１１０１０５１９４９１２３１００２Ｘ", ResidentIdProblem.CHARACTERS),  # noqa: RUF001 full-width digits
    ],
)
def test_malformed_numbers(number: str, problem: ResidentIdProblem) -> None:
    with pytest.raises(ResidentIdError) as err:
        validate_resident_id(number, today=TODAY)
    assert err.value.problem is problem
