"""Alerts that reach the office's phones (docs/alerts.md).

``outbox`` raises alerts into the database — from ingest, in the same transaction as the
records (a fever deny, a device fault, a tamper or clock alarm), and from a periodic watch
(a kiosk offline or a post unstaffed beyond N minutes, a fault a heartbeat reports) — each once
per key. ``worker`` delivers them to every ``channels`` entry (a generic JSON webhook, WeCom and
DingTalk group robots, SMTP mail), retried with backoff, from its own thread: ingest only
inserts a row and never waits on a receiver. ``settings`` reads the alerts file.
"""
