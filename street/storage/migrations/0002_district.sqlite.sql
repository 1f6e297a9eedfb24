-- Schema 2: a district. Places (district → street → compound; the gate is the kiosk's own),
-- where each kiosk stands and what kind of credential it holds, counters per kiosk and hour kept
-- on ingest (the status page no longer scans the day's records), a trust bundle per street,
-- alarms found by kind. Counters are filled from the records already held; the overrides are
-- kiosk/schema.py's OVERRIDES as of this schema.
CREATE TABLE districts (district_id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '');
CREATE TABLE streets (street_id TEXT PRIMARY KEY, district_id TEXT, name TEXT NOT NULL DEFAULT '');
CREATE TABLE compounds (
    street_id TEXT NOT NULL, compound_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (street_id, compound_id));
ALTER TABLE kiosks ADD COLUMN street_id TEXT;
ALTER TABLE kiosks ADD COLUMN compound_id TEXT;
ALTER TABLE kiosks ADD COLUMN gate_id TEXT;
ALTER TABLE kiosks ADD COLUMN gate_name TEXT NOT NULL DEFAULT '';
ALTER TABLE kiosks ADD COLUMN credential_kind TEXT NOT NULL DEFAULT 'hmac-sha256';
CREATE INDEX kiosks_place ON kiosks (street_id, compound_id);
CREATE TABLE counts (
    kiosk_id TEXT NOT NULL, hour INTEGER NOT NULL, passes INTEGER NOT NULL DEFAULT 0,
    fevers INTEGER NOT NULL DEFAULT 0, overrides INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kiosk_id, hour));
CREATE INDEX counts_hour ON counts (hour);
INSERT INTO counts (kiosk_id, hour, passes, fevers, overrides)
    SELECT kiosk_id, CAST(ts / 3600 AS INTEGER), COUNT(*),
           SUM(CASE WHEN cause = 'fever' THEN 1 ELSE 0 END),
           SUM(CASE WHEN decision IN ('manual_pass', 'manual_deny', 'emergency_open') THEN 1 ELSE 0 END)
    FROM records WHERE kind = 'pass' AND ts >= 0 GROUP BY kiosk_id, CAST(ts / 3600 AS INTEGER);
DROP INDEX records_day;
CREATE INDEX records_ts ON records (ts);
ALTER TABLE bundles ADD COLUMN street_id TEXT;
CREATE INDEX alarms_kind ON alarms (kind, kiosk_id);
