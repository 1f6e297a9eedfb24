"""The street database: ``db`` (ingest exactly once, kiosk registry, heartbeats, bundles) and
``gaps`` (the contiguous ack mark and missing ranges, pure functions)."""
