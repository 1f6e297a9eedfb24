"""The camera and the QR decoder: ``capture`` (OpenCV/picamera2 sources, the newest-frame
capture thread), ``qr`` (the per-frame-budgeted decoding cascade), ``zbar`` (QR-only ZBar in
binary mode, exact payload bytes)."""
