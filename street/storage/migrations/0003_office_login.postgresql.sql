-- Schema 3 (issue 14): office accounts and their sessions. A password is kept only as its
-- Argon2id PHC string; a session only as the SHA-256 of its cookie, so a copy of the database
-- opens no session. failures/locked_until: the lock-out after repeated wrong passwords.
CREATE TABLE office_users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, street_id TEXT,
    created DOUBLE PRECISION NOT NULL, failures INTEGER NOT NULL DEFAULT 0, locked_until DOUBLE PRECISION NOT NULL DEFAULT 0);
CREATE TABLE office_sessions (
    token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL);
CREATE INDEX office_sessions_user ON office_sessions (username);
