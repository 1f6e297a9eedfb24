"""The running kiosk (`kiosk run`): ``assembly`` builds it from the config, ``runtime`` is the
loop (inbox → flow → executor: commit, then the gate), ``housekeeping`` does the loop's chores
between events (watchdog, status file, disk and clock guards, retention purge), ``sdnotify``
speaks systemd's notify protocol, ``logs`` sets up journald-friendly logging.
"""
