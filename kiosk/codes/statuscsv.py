"""The street office's status list as CSV → the status entries of a trust bundle.

Columns (header row required): ``holder_ref`` (32 hex digits) *or* ``id_number`` (then a
pseudonym key turns it into a holder reference and the ID number goes no further), ``colour``
(green/yellow/red, also 绿/黄/红), and optionally ``as_of`` (Unix seconds or ISO 8601 date/time,
UTC if no zone). Every error names the line.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from kiosk.codes.keys import holder_ref
from kiosk.errors import CodeError

_COLOURS = {"green": "green", "yellow": "yellow", "red": "red", "绿": "green", "黄": "yellow", "红": "red",
            "绿码": "green", "黄码": "yellow", "红码": "red"}
MAX_ROWS = 1_000_000


def parse_time(text: str, where: str, tz: tzinfo = UTC) -> int:
    """Unix seconds, or an ISO 8601 date/time (without a zone: in ``tz``)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise CodeError(f"{where}: {text!r} is neither Unix seconds nor an ISO 8601 date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return int(dt.timestamp())


def read_status_csv(path: Path, default_as_of: int, pseudonym_key: bytes | None = None) -> dict[bytes, tuple[str, int]]:
    """holder_ref → (colour, as_of). A holder listed twice keeps the row with the latest as_of."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CodeError(f"status CSV {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CodeError(f"status CSV {path} cannot be read as UTF-8 text: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    reader.fieldnames = fields
    if "colour" not in fields or not ({"holder_ref", "id_number"} & set(fields)):
        raise CodeError(f"status CSV {path}: header must name colour and holder_ref or id_number "
                        f"(found: {', '.join(fields) or 'nothing'})")
    if "id_number" in fields and pseudonym_key is None:
        raise CodeError(f"status CSV {path} has id_number: pass --pseudonym-key to turn them into holder references")
    out: dict[bytes, tuple[str, int]] = {}
    for row in reader:
        where = f"{path} line {reader.line_num}"
        if len(out) >= MAX_ROWS:
            raise CodeError(f"{where}: more than {MAX_ROWS} rows")
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        colour = _COLOURS.get((row.get("colour") or "").strip().lower())
        if colour is None:
            raise CodeError(f"{where}: colour {row.get('colour')!r} is not green, yellow or red")
        ref_hex = (row.get("holder_ref") or "").strip()
        if ref_hex:
            try:
                ref = bytes.fromhex(ref_hex)
            except ValueError:
                ref = b""
            if len(ref) != 16:
                raise CodeError(f"{where}: holder_ref must be 32 hex digits")
        else:
            id_number = (row.get("id_number") or "").strip()
            if not id_number or pseudonym_key is None:
                raise CodeError(f"{where}: no holder_ref or id_number")
            ref = holder_ref(pseudonym_key, id_number)
        as_of_text = (row.get("as_of") or "").strip()
        as_of = parse_time(as_of_text, where) if as_of_text else default_as_of
        if ref not in out or out[ref][1] <= as_of:
            out[ref] = (colour, as_of)
    return out
