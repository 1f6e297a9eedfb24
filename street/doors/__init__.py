"""Door-sensor nodes on the street server: households in home quarantine (docs/street-server.md §9).

``store`` turns the nodes' door records into the board's state and alerts inside the same
transaction that stores the records (so each counts exactly once), ends quarantines at their
end and applies the retention rule; ``alerts`` is the one seam through which an alert leaves
the server; ``board`` is the office's quarantine board and daily report.
"""
