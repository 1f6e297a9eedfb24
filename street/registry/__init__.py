"""Who the kiosks are and where they stand: ``places`` (district → street → compound → gate, with
names), ``credentials`` (what a kiosk proves itself with, made in one place), ``roster`` (a
street's kiosks from one CSV, for `street-server kiosk import`). No storage here: the database
keeps what these modules produce (street/storage/db.py)."""
