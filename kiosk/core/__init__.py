"""The pure core: the pass flow as a state machine from events to actions, the volunteer panel,
the measurement window and the kiosk's rules. No I/O, no drivers, no third-party imports (a
test checks it): everything here runs on an injected clock and is tested without hardware.

``events`` (what happened) → ``flow.Flow.handle`` → ``actions`` (what to do); ``records`` is
what a decision says, ``verdict`` what the verifier concluded, ``policy`` and ``measure`` the
rules the flow applies, ``panel`` the buttons' debounce and long press.
"""
