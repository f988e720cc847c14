"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

An 18-character code every legal entity in China carries on its business licence:

====  ==========================================================================
pos   meaning
====  ==========================================================================
1     registration authority (登记管理部门代码), e.g. 9 = market regulation
2     entity type within that authority (机构类别代码), e.g. 1 = enterprise
3-8   administrative division of the registering office (GB/T 2260), digits
9-17  organisation code (组织机构代码, GB 11714): 8 characters + its own check
18    check character over positions 1-17
====  ==========================================================================

Every character comes from ``0-9`` and the upper-case letters except I, O, Z, S and
V (31 characters, valued 0-30 in that order). The check character is
``(31 - sum(value_i * weight_i) mod 31) mod 31`` with the weights 3**(i-1) mod 31.

The organisation code's own check (GB 11714-1997) values letters on the full
alphabet (A=10 ... Z=35), uses the weights 3, 7, 9, 10, 5, 8, 4, 2 and the check
``11 - sum mod 11``, written ``X`` for 10 and ``0`` for 11.

Positions 1 and 2 are not checked against a list: the standard lets each authority
assign its own codes, so any character of the code set is accepted there.
"""

from __future__ import annotations

import re

__all__ = [
    "USCC_ALPHABET",
    "USCC_LENGTH",
    "USCC_WEIGHTS",
    "is_valid_uscc",
    "make_uscc",
    "normalize_uscc",
    "organization_code_check_character",
    "uscc_check_character",
    "uscc_error",
]

USCC_LENGTH = 18
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: value for value, ch in enumerate(USCC_ALPHABET)}

# GB 11714-1997: body characters are valued on the whole Latin alphabet.
_ORG_BODY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_VALUE = {ch: value for value, ch in enumerate(_ORG_BODY_ALPHABET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_EXCLUDED_LETTERS = frozenset("IOZSV")

# Full-width ASCII (U+FF01..U+FF5E) -> ASCII, ideographic space -> space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HALF_WIDTH[0x3000] = 0x20
_WHITESPACE = re.compile(r"\s+")

_PART_NAMES = {
    1: "registration authority",
    2: "entity type",
    **dict.fromkeys(range(3, 9), "administrative division"),
    **dict.fromkeys(range(9, 18), "organisation code"),
    18: "check character",
}


def normalize_uscc(s: str) -> str:
    """Return ``s`` as it should be stored: half-width, upper case, without whitespace.

    Full-width forms (``９１４４``, ``ＭＡ``) become ASCII and every whitespace character,
    including the ideographic space, is removed (a code never contains one, and people
    paste codes split into groups). Nothing else is changed, so an invalid code stays
    recognisably what the user typed.
    """
    return _WHITESPACE.sub("", s.translate(_HALF_WIDTH)).upper()


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100 check character (position 18) for the first 17 characters.

    ``first17`` must be 17 characters of the code set (already normalised); a
    ``ValueError`` names the first character that is not.
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    total = 0
    for position, (ch, weight) in enumerate(zip(first17, USCC_WEIGHTS, strict=True), 1):
        value = _USCC_VALUE.get(ch)
        if value is None:
            raise ValueError(f"invalid character {ch!r} at position {position}")
        total += value * weight
    return USCC_ALPHABET[(31 - total % 31) % 31]


def organization_code_check_character(body8: str) -> str:
    """Return the GB 11714 check character (``0``-``9`` or ``X``) for an 8-character body.

    ``body8`` must be 8 digits or upper-case ASCII letters; otherwise ``ValueError``.
    """
    if len(body8) != len(_ORG_WEIGHTS):
        raise ValueError(f"expected 8 characters, got {len(body8)}")
    total = 0
    for position, (ch, weight) in enumerate(zip(body8, _ORG_WEIGHTS, strict=True), 1):
        value = _ORG_VALUE.get(ch)
        if value is None:
            raise ValueError(f"invalid character {ch!r} at position {position}")
        total += value * weight
    remainder = (11 - total % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def uscc_error(s: str, *, check_organization_code: bool = True) -> str | None:
    """Say what is wrong with a Unified Social Credit Code, or return None if it is valid.

    The code is normalised first (:func:`normalize_uscc`), so lower case, full-width
    characters and spaces are accepted; positions in messages count from 1 on the
    normalised code. Checks, in order, and the first failure is reported: not empty,
    exactly 18 characters, every character in the code set, positions 3-8 digits,
    the check character (position 18), then the organisation code's own check
    character (position 17; skip it with ``check_organization_code=False``).
    """
    code = normalize_uscc(s)
    if not code:
        return "is empty"
    if len(code) != USCC_LENGTH:
        return f"must be {USCC_LENGTH} characters long, not {len(code)}"
    for position, ch in enumerate(code, 1):
        if ch not in _USCC_VALUE:
            hint = " (the letters I, O, Z, S and V are never used)"
            return (
                f"contains invalid character {ch!r} at position {position}"
                f"{hint if ch in _EXCLUDED_LETTERS else ''}"
            )
    for position in range(3, 9):
        ch = code[position - 1]
        if not ch.isdigit():
            return (
                f"position {position} ({_PART_NAMES[position]}, positions 3-8) "
                f"must be a digit, not {ch!r}"
            )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        return f"check character should be {expected!r}, not {code[17]!r}"
    if check_organization_code:
        expected_org = organization_code_check_character(code[8:16])
        if code[16] != expected_org:
            return (
                "organisation code (positions 9-17) is inconsistent: its check character "
                f"at position 17 should be {expected_org!r}, not {code[16]!r}"
            )
    return None


def is_valid_uscc(s: str, *, check_organization_code: bool = True) -> bool:
    """True when :func:`uscc_error` finds nothing wrong with ``s``."""
    return uscc_error(s, check_organization_code=check_organization_code) is None


def make_uscc(
    seed_digits: int | str,
    *,
    authority: str = "9",
    entity_type: str = "1",
    division: str = "430100",
) -> str:
    """Build a valid code from a number, for demo and benchmark data.

    The organisation-code body is ``seed_digits`` as 8 digits (left-padded with zeros),
    followed by its GB 11714 check character; then the GB 32100 check character is
    appended. Distinct seeds in ``0 .. 99_999_999`` give distinct codes, and the same
    seed always gives the same code. Defaults: authority ``9`` (market regulation),
    type ``1`` (enterprise), division ``430100`` (Changsha). Bad arguments raise
    ``ValueError``. The result is well-formed, not necessarily issued to anyone.
    """
    digits = str(seed_digits).strip()
    if not digits.isdecimal() or not digits.isascii():
        raise ValueError(f"seed_digits must be a non-negative integer, not {seed_digits!r}")
    if len(digits) > 8:
        raise ValueError(f"seed_digits must have at most 8 digits, not {len(digits)}")
    for label, ch in (("authority", authority), ("entity_type", entity_type)):
        if len(ch) != 1 or ch not in _USCC_VALUE:
            raise ValueError(f"{label} must be one character of {USCC_ALPHABET}, not {ch!r}")
    if len(division) != 6 or not division.isascii() or not division.isdigit():
        raise ValueError(f"division must be 6 digits, not {division!r}")
    body = digits.zfill(8)
    first17 = authority + entity_type + division + body + organization_code_check_character(body)
    return first17 + uscc_check_character(first17)
