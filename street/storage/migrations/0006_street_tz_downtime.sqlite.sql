-- Schema 6: each street's time zone, and kiosks' offline stretches for the report's downtime.
-- The zone (an IANA name such as Asia/Shanghai) sets the "today", hours
-- and printed times on the board and the reports. NULL: the server's `serve --tz` (else the
-- machine's zone). Set with `street-server street tz STREET ZONE` (checked before it is written).
ALTER TABLE streets ADD COLUMN tz TEXT;
-- Downtime: one row per stretch a kiosk was silent longer than `--offline-after`, from its last
-- contact to the contact that ended it (written by that contact); the daily report's device
-- section sums them per post and local day. A kiosk silent now adds the stretch since
-- `kiosks.last_contact` when the report is read.
CREATE TABLE offline_spells (
    kiosk_id TEXT NOT NULL, began REAL NOT NULL, ended REAL NOT NULL, PRIMARY KEY (kiosk_id, began));
CREATE INDEX offline_spells_ended ON offline_spells (ended);
