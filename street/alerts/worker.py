"""The alert worker: a thread of the server that watches, then delivers what is due.

Every ``interval_s`` it raises the alerts of silence (offline, unstaffed, heartbeat faults),
adds a delivery per channel for new alerts, and sends what is due, one at a time, each with its
channel's timeout. A channel that is down or slow delays only other alerts, never ingest (which
only inserts rows) nor the pages. Failed deliveries wait 30 s, 1, 2, 5, 10, 30 min, then hourly.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading

from kiosk.clock import Clock
from street import i18n
from street.alerts import channels, outbox
from street.alerts.channels import Message
from street.alerts.settings import AlertSettings
from street.doors.alerts import KINDS as door_kinds
from street.errors import DeliveryError, LanguageError, StoreUnavailable
from street.storage import zones
from street.storage.db import StreetDB
from street.storage.engine import Row

log = logging.getLogger("street.alerts")


class AlertWorker:
    def __init__(self, db: StreetDB, settings: AlertSettings, clock: Clock, tz: dt.tzinfo,
                 lang: str = i18n.LANGUAGES[0]) -> None:
        self.db, self.s, self.clock, self.tz = db, settings, clock, tz
        self._ = i18n.translations(lang).gettext
        self.channels = {c.name: channels.make(c) for c in settings.channels}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round: watch, enqueue, deliver what is due; the number delivered."""
        now = self.clock.wall()
        today = dt.datetime.fromtimestamp(now, self.tz).date()
        day_start = dt.datetime.combine(today, dt.time(0), self.tz).timestamp()

        def prepare(tx: outbox.Tx) -> list[Row]:
            outbox.watch(tx, now, self.s, day_start, self._street_day_starts(tx, now))
            outbox.enqueue(tx, now, self.s)
            return outbox.due(tx, now, list(self.channels))

        return sum(self._deliver(row, now) for row in self.db.engine.write(prepare))

    @staticmethod
    def _street_day_starts(tx: outbox.Tx, now: float) -> dict[str, float]:
        """Local midnight of each street that has its own time zone (schema 6)."""
        out = {}
        for street, name in tx.all("SELECT street_id, tz FROM streets WHERE tz IS NOT NULL"):
            try:
                tz = zones.zone(name)
            except LanguageError:              # written around the CLI: the server's zone
                continue
            today = dt.datetime.fromtimestamp(now, tz).date()
            out[street] = dt.datetime.combine(today, dt.time(0), tz).timestamp()
        return out

    def _deliver(self, row: Row, now: float) -> bool:
        """Claim, send and settle one delivery; True if the channel took it."""
        alert_id, name, attempts, seen = int(row[0]), str(row[1]), int(row[2]), float(row[3])
        if not self.db.engine.write(lambda tx: outbox.claim(tx, alert_id, name, seen, now)):
            return False                                   # another worker has it
        error: str | None = None
        try:
            self.channels[name].send(self.message(row))
        except DeliveryError as exc:
            error = str(exc)
            log.warning("alert %s to %s failed (attempt %d): %s", row[4], name, attempts + 1, error)
        done = self.clock.wall()
        self.db.engine.write(lambda tx: outbox.settle(tx, alert_id, name, done, attempts + 1, error))
        return error is None

    def message(self, row: Row) -> Message:
        """The alert in words, in the office's language, with the post's place."""
        _ = self._
        key, kind, kiosk_id, at, detail = row[4], row[5], row[6], float(row[7]), json.loads(row[8] or "{}")
        place = self.db.rows("SELECT k.gate_name, c.name, s.name, s.tz FROM kiosks k LEFT JOIN compounds c ON "
                             "c.street_id = k.street_id AND c.compound_id = k.compound_id LEFT JOIN streets s ON "
                             "s.street_id = k.street_id WHERE k.kiosk_id = ?", (kiosk_id,))
        where = " ".join(p for p in ((place[0][2], place[0][1], place[0][0]) if place else ()) if p) or kiosk_id
        tz = self.tz
        if place and place[0][3]:
            try:
                tz = zones.zone(place[0][3])           # the street's own clock (schema 6)
            except LanguageError:
                pass
        when = dt.datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M")
        texts = {
            "fever": lambda: _("Fever: a resident was denied at %(temp)s °C") % {"temp": detail.get("temp_c")},
            "unstaffed": lambda: _("Nobody on duty since %(since)s") % {
                "since": dt.datetime.fromtimestamp(detail.get("since", at), tz).strftime("%H:%M")},
            "offline": lambda: _("Kiosk silent since %(since)s") % {
                "since": dt.datetime.fromtimestamp(detail.get("last_contact", at), tz).strftime("%H:%M")},
            "fault": lambda: _("Device fault: %(device)s %(detail)s") % detail,
            "alarm": lambda: _("Alarm: %(device)s %(detail)s") % detail,
            "door": lambda: _("Home quarantine: %(what)s (household %(household)s)") % {
                "what": _(door_kinds.get(detail.get("what", ""), detail.get("what", ""))),
                "household": str(detail.get("household", ""))[:11] + "…"},
        }
        titles = {"fever": _("Fever alert"), "unstaffed": _("Post unstaffed"), "offline": _("Kiosk offline"),
                  "fault": _("Device fault"), "alarm": _("Tamper or clock alarm"),
                  "door": _("Home quarantine alert")}
        title = f"【{titles[kind]}】{where}"
        text = f"{texts[kind]()}\n{where} ({kiosk_id}) · {when}"
        return Message(key, kind, kiosk_id, at, title, text, {"detail": detail, "place": where})

    def _run(self) -> None:
        while not self._stop.wait(self.s.interval_s):
            try:
                self.run_once()
            except StoreUnavailable as exc:
                log.warning("alerts wait for the database: %s", exc)
            except Exception:                                  # the worker must outlive one bad round
                log.exception("alert round failed")

    def start(self) -> AlertWorker:
        self._thread = threading.Thread(target=self._run, name="street-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
