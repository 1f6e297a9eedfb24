-- Schema 4: the office's board: counters per decision, alerts, the duty roster.
-- Counters per decision: ``passes`` now counts decision 'pass' only (schema 2 counted every decision there, so a deny showed as a pass), beside denies,
-- manual passes, manual denies and emergency openings; refilled from the records held.
-- Alerts: one row per thing the office must hear about (fever deny, unstaffed, offline, device
-- fault, tamper/clock alarm), unique by its key (de-duplicated), and one delivery row per
-- channel, worked off by the alert worker with backoff (ingest only inserts: it never waits).
ALTER TABLE counts ADD COLUMN denies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE counts ADD COLUMN manual_passes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE counts ADD COLUMN manual_denies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE counts ADD COLUMN emergency_opens INTEGER NOT NULL DEFAULT 0;
DELETE FROM counts;
INSERT INTO counts (kiosk_id, hour, passes, fevers, overrides, denies, manual_passes, manual_denies, emergency_opens)
    SELECT kiosk_id, CAST(ts / 3600 AS INTEGER),
           SUM(CASE WHEN decision = 'pass' THEN 1 ELSE 0 END),
           SUM(CASE WHEN cause = 'fever' THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision IN ('manual_pass', 'manual_deny', 'emergency_open') THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision = 'manual_pass' THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision = 'manual_deny' THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision = 'emergency_open' THEN 1 ELSE 0 END)
    FROM records WHERE kind = 'pass' AND ts >= 0 GROUP BY kiosk_id, CAST(ts / 3600 AS INTEGER);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, kiosk_id TEXT NOT NULL,
    at REAL NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL, channel TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL, done REAL, error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (alert_id, channel));
CREATE INDEX alert_deliveries_due ON alert_deliveries (done, next_try);
-- The duty roster: the hours each post must be staffed, local minutes of the day [start, end)
-- (a post open overnight has two rows). Replaced whole by `street-server duty import`.
CREATE TABLE duty_hours (
    kiosk_id TEXT NOT NULL, start_min INTEGER NOT NULL, end_min INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, start_min));
-- The office's reads of a day's few non-pass records (shifts, faults, alarms, inspections) and
-- overrides, without scanning its passes: partial indexes, small beside ``records_ts``. Queries
-- repeat each index's predicate word for word so both engines' planners take it.
CREATE INDEX records_events ON records (kind, ts) WHERE kind <> 'pass';
CREATE INDEX records_overrides ON records (ts) WHERE decision IN ('manual_pass', 'manual_deny', 'emergency_open');
