"""The PRC resident identity card number (公民身份号码), GB 11643-1999.

Eighteen characters: a six-digit administrative region code, the birth date as YYYYMMDD, a
three-digit sequence number and a check character. The check character is ISO 7064 MOD 11-2:
the first seventeen digits weighted 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, the sum mod 11
mapped through ``10X98765432``.

Passing this check only means the number was typed without an obvious mistake: it proves
nothing about who someone is (docs/domain.md "Identity").
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# The first two digits: provinces, autonomous regions and municipalities (GB/T 2260), plus
# 71 Taiwan, 81 Hong Kong and 82 Macao, which residence permits use. 83 is not a region.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip

# The earliest birth year a living person can plausibly have on a card.
_EARLIEST_YEAR = 1890


class ResidentIdProblem(StrEnum):
    """Why a number is not a valid resident ID number; each has its own message."""

    LENGTH = "length"  # not 18 characters
    CHARACTERS = "characters"  # not 17 digits then a digit or X
    REGION = "region"  # the first two digits are no province
    BIRTH_DATE = "birth_date"  # no such date, or in the future, or implausibly old
    CHECK_DIGIT = "check_digit"  # the last character does not match: a typo


_MESSAGES = {
    ResidentIdProblem.LENGTH: "a resident ID number has 18 characters",
    ResidentIdProblem.CHARACTERS: "a resident ID number is 17 digits followed by a digit or X",
    ResidentIdProblem.REGION: "the first two digits are not a province code: check the number",
    ResidentIdProblem.BIRTH_DATE: "digits 7 to 14 are not a valid birth date: check the number",
    ResidentIdProblem.CHECK_DIGIT: (
        "the number does not add up (its last character is a check digit): "
        "one of the characters was probably mistyped"
    ),
}


class ResidentIdError(ValueError):
    """A number that fails GB 11643-1999; ``problem`` says which part."""

    def __init__(self, problem: ResidentIdProblem) -> None:
        super().__init__(_MESSAGES[problem])
        self.problem = problem
        self.message = _MESSAGES[problem]


def check_digit(first17: str) -> str:
    """The check character of seventeen digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ResidentIdError(ResidentIdProblem.CHARACTERS)
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def validate_resident_id(number: str, *, today: date | None = None) -> str:
    """Return ``number`` normalised (spaces removed, ``x`` upper-cased) if it is a valid
    resident ID number, else raise :class:`ResidentIdError` naming the problem."""
    text = "".join(number.split()).upper()
    if len(text) != 18:
        raise ResidentIdError(ResidentIdProblem.LENGTH)
    body, last = text[:17], text[17]
    if not (body.isascii() and body.isdigit()) or last not in "0123456789X":
        raise ResidentIdError(ResidentIdProblem.CHARACTERS)
    if body[:2] not in PROVINCE_CODES:
        raise ResidentIdError(ResidentIdProblem.REGION)
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        raise ResidentIdError(ResidentIdProblem.BIRTH_DATE) from None
    if born.year < _EARLIEST_YEAR or born > (today or date.today()):
        raise ResidentIdError(ResidentIdProblem.BIRTH_DATE)
    if check_digit(body) != last:
        raise ResidentIdError(ResidentIdProblem.CHECK_DIGIT)
    return text
