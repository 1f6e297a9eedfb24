"""The kiosk-facing API: ``auth`` (signed requests: signature, time window, nonce) and
``validate`` (every field a kiosk sends, checked before storage; a bad one is a 4xx)."""
