"""Base45 (RFC 9285), the text layer of ``GK1:`` and EU DCC ``HC1:`` codes.

Strict on decode so that every string has at most one meaning: characters outside the
45-character alphabet, a dangling single character, and chunks whose value overflows (> 65535
for three characters, > 255 for two) are errors. Written here rather than pulled in: the PyPI
``base45`` package is ~30 lines, unmaintained since 2022, and not in Debian.
"""

from __future__ import annotations

from kiosk.errors import Base45Error

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}



def encode(data: bytes) -> str:
    """Two bytes → three characters (little end first), a last odd byte → two characters."""
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, rest = divmod(n, 45 * 45)
        d, c = divmod(rest, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def decode(text: str) -> bytes:
    """The exact inverse of :func:`encode`; raises :class:`Base45Error` on anything else."""
    if len(text) % 3 == 1:
        raise Base45Error(f"Base45 text of length {len(text)} has a dangling character")
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError as exc:
        raise Base45Error(f"character {exc.args[0]!r} is not in the Base45 alphabet") from None
    out = bytearray()
    full = len(values) - len(values) % 3
    for i in range(0, full, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise Base45Error(f"Base45 chunk at {i} overflows two bytes")
        out += bytes(divmod(n, 256))
    if full < len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise Base45Error(f"Base45 chunk at {full} overflows one byte")
        out.append(n)
    return bytes(out)
