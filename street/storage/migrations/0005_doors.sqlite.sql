-- Schema 5: door-sensor nodes at households in home quarantine (docs/street-server.md §9).
-- A household is only its pseudonym (hh- and 32 hex digits); the node that watches it is a
-- kiosk of this street (its place gives the compound). door_events keeps each door record once,
-- under the record's own key; door_alerts are what the office must act on and who did.
CREATE TABLE households (
    household_ref TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, door TEXT NOT NULL DEFAULT '',
    starts REAL, ends REAL, windows TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'watching', door_open INTEGER NOT NULL DEFAULT 0,
    last_open REAL, last_event REAL, ended REAL);
CREATE INDEX households_kiosk ON households (kiosk_id);
CREATE TABLE door_events (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, seq INTEGER NOT NULL,
    household_ref TEXT NOT NULL, kind TEXT NOT NULL, cause TEXT, ts REAL NOT NULL,
    temp_c REAL, staff_ref TEXT,
    PRIMARY KEY (kiosk_id, db_epoch, seq));
CREATE INDEX door_events_household ON door_events (household_ref, ts);
CREATE TABLE door_alerts (
    id INTEGER PRIMARY KEY, household_ref TEXT NOT NULL, kiosk_id TEXT NOT NULL, kind TEXT NOT NULL,
    at REAL NOT NULL, detail TEXT NOT NULL DEFAULT '', acked_by TEXT, acked_at REAL, note TEXT);
CREATE INDEX door_alerts_household ON door_alerts (household_ref, acked_at);
