"""The street database on two engines behind one interface.

``db`` (the rules: ingest exactly once, gaps, counters, registry, heartbeats, bundles — the same
SQL on both engines), ``engine`` (what the rules need from an engine), ``sqlite`` (one street,
one file, nothing to install: the default), ``postgres`` (a district: many streets, several
server processes), ``migrate`` and ``migrations/`` (versioned schema upgrades for both),
``views`` (what the office reads: counters, not records), ``transfer`` (a street's SQLite
database moved into the district's PostgreSQL), ``backup`` (online backups and restores),
``gaps`` (the contiguous ack mark and missing ranges, pure functions).
"""
