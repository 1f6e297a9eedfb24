"""Demo scaffolding, kept out of the product: the director and its scripted crowd (`kiosk demo`),
the embedded street server, and the stand-in site (`python -m hardware_mocks.standin`).
These are composition roots: they may import kiosk, sync, street and hardware_mocks."""
