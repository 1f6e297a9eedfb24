"""How long each kiosk was offline: stretches of silence longer than ``--offline-after`` (schema 6).

The server keeps one heartbeat per kiosk (the latest), so the history is written when a kiosk comes
back: the contact that ends a silence longer than ``offline_after`` stores the stretch from the
last contact before it to this one (the whole silence: the kiosk was unreachable all of it, not
only after the board called it offline). A kiosk silent now adds the stretch since its last
contact, open, when a report is read. A kiosk never heard from has no downtime: it is "never
seen" on the board, apart from offline ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from street.registry.places import Scope
from street.storage.engine import Tx

if TYPE_CHECKING:
    from street.storage.db import StreetDB  # db.py calls note_contact: no import cycle at run time


def note_contact(tx: Tx, kiosk_id: str, now: float, offline_after: float) -> None:
    """Before ``kiosks.last_contact`` moves to ``now``: store the silence it ends, if it was one."""
    tx.run("INSERT INTO offline_spells (kiosk_id, began, ended) SELECT kiosk_id, last_contact, ? FROM kiosks "
           "WHERE kiosk_id = ? AND last_contact IS NOT NULL AND ? - last_contact > ? "
           "ON CONFLICT (kiosk_id, began) DO NOTHING", (now, kiosk_id, now, offline_after))


def offline(db: StreetDB, scope: Scope, start: float, end: float, now: float,
            offline_after: float) -> dict[str, list[tuple[float, float]]]:
    """Per kiosk in ``scope``: its offline stretches overlapping [start, end), clipped to it and to
    ``now`` (a stretch still open ends at ``now``)."""
    cond, params = scope.where("k")
    until = min(end, now)

    def read(tx: Tx) -> dict[str, list[tuple[float, float]]]:
        out: dict[str, list[tuple[float, float]]] = {}
        for kiosk_id, began, ended in tx.all(
                "SELECT t.kiosk_id, t.began, t.ended FROM offline_spells t JOIN kiosks k ON k.kiosk_id = t.kiosk_id "
                f"WHERE {cond} AND t.ended > ? AND t.began < ? ORDER BY t.kiosk_id, t.began", (*params, start, until)):
            out.setdefault(kiosk_id, []).append((max(float(began), start), min(float(ended), until)))
        for kiosk_id, last in tx.all(f"SELECT k.kiosk_id, k.last_contact FROM kiosks k WHERE {cond} "
                                     "AND k.last_contact IS NOT NULL AND k.last_contact < ? AND ? - k.last_contact > ?",
                                     (*params, until, now, offline_after)):
            out.setdefault(kiosk_id, []).append((max(float(last), start), until))
        return out

    return db.read(read, snapshot=True)
