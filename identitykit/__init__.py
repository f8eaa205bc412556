"""What identity checks need that is not the domain's business: the resident ID number's
check (GB 11643-1999), keyed hashes of ID numbers and one-time codes, and code generation.

Ground floor: imports nothing of ``hearing_server``. The live face match and liveness
(issue 12 part 2) will live here too, in a child process.
"""

from __future__ import annotations

from .codes import CODE_DIGITS, new_code
from .keyed import KeyedHasher, normalise_id_number
from .resident_id import (
    PROVINCE_CODES,
    ResidentIdError,
    ResidentIdProblem,
    check_digit,
    validate_resident_id,
)

__all__ = [
    "CODE_DIGITS",
    "PROVINCE_CODES",
    "KeyedHasher",
    "ResidentIdError",
    "ResidentIdProblem",
    "check_digit",
    "new_code",
    "normalise_id_number",
    "validate_resident_id",
]
