"""Fixtures of the attack tests: a street server with its own answer-signing key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from street.server import StreetServer


@pytest.fixture
def server_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def street(tmp_path: Path, server_key: Ed25519PrivateKey) -> Iterator[StreetServer]:
    with StreetServer(tmp_path / "street.db", server_key=server_key) as server:
        yield server
