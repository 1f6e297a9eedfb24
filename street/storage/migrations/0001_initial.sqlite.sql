-- Schema 1: the first release's street database (one street, one SQLite file).
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY, secret TEXT NOT NULL, created REAL NOT NULL, revoked REAL,
    last_contact REAL, online_since REAL);
CREATE TABLE IF NOT EXISTS streams (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL,
    acked_through INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0,
    redelivered INTEGER NOT NULL DEFAULT 0, first_seen REAL, last_seen REAL,
    PRIMARY KEY (kiosk_id, db_epoch));
CREATE TABLE IF NOT EXISTS gaps (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    since REAL NOT NULL, PRIMARY KEY (kiosk_id, db_epoch, first));
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    kind TEXT NOT NULL, ts REAL NOT NULL, ts_source TEXT NOT NULL,
    wall_ts REAL NOT NULL, clock_synced INTEGER NOT NULL, boot_id TEXT NOT NULL, mono_ns INTEGER NOT NULL,
    decision TEXT, cause TEXT, device TEXT, volunteer_ref TEXT, temp_c REAL,
    body TEXT NOT NULL, received REAL NOT NULL,
    UNIQUE (kiosk_id, db_epoch, seq));
CREATE INDEX IF NOT EXISTS records_day ON records (ts, kind, kiosk_id, cause, decision);
CREATE INDEX IF NOT EXISTS records_boot ON records (kiosk_id, boot_id, clock_synced);
CREATE TABLE IF NOT EXISTS quarantine (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, seq INTEGER NOT NULL, digest TEXT NOT NULL,
    reason TEXT NOT NULL, body TEXT NOT NULL, received REAL NOT NULL,
    PRIMARY KEY (kiosk_id, db_epoch, seq));
CREATE TABLE IF NOT EXISTS heartbeats (
    kiosk_id TEXT PRIMARY KEY, received REAL NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, kiosk_id TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS nonces (
    kiosk_id TEXT NOT NULL, nonce TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (kiosk_id, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lost (
    kiosk_id TEXT NOT NULL, db_epoch TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    reported REAL NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (kiosk_id, db_epoch, first));
CREATE TABLE IF NOT EXISTS bundles (
    id INTEGER PRIMARY KEY, etag TEXT NOT NULL, data BLOB NOT NULL, published REAL NOT NULL);
