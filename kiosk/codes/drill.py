"""A complete, throwaway trust setup for drills: `kiosk demo`, tests and technicians' trials.

Makes a root key, a street key endorsed by it, two issuer keys (ES256 and EdDSA) and a retired
one (listed as a revoked kid), signs a bundle with red and yellow holders in its status list and
one revoked paper code, and issues real ``GK1:`` codes for every kind of resident the demo crowd
knows: green, paper, yellow, red, expired, forged, wrong_scope, revoked, plus volunteer badges. Nothing
here is a shortcut around verification: the kiosk checks these codes like any others.
"""

from __future__ import annotations

import os
from pathlib import Path

import cbor2

from kiosk.codes import base45, bundle, cose, keys, token
from kiosk.codes.bundle import IssuerKey, Policy
from kiosk.codes.token import Claims
from kiosk.durable import write_atomic

STREET = "DEMO-STREET"
ISSUER = "DEMO-STREET-S01"


class Drill:
    """Keys, a bundle on disk, and a code factory; ``now`` is the wall time the codes start at."""

    def __init__(self, directory: Path, compound: str, now: float, gate: str = "main",
                 policy: Policy | None = None, seq: int = 1) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.compound, self.gate = compound, gate
        self.root = keys.generate("ES256")
        self.street = keys.generate("ES256")
        self.issuer = keys.generate("ES256")
        self.issuer_ed = keys.generate("EdDSA")
        self.retired = keys.generate("ES256")
        self.forger = keys.generate("ES256")
        t = int(now)
        self.now = t
        self.endorsement = bundle.endorse(self.root, self.street.public_key(), STREET, t - 30 * 86400, t + 365 * 86400)
        self.red_holder, self.yellow_holder = os.urandom(16), os.urandom(16)
        self.revoked_code = self._sign(self._claims("paper", "green", os.urandom(16), t, 30 * 86400))
        self.revoked_hash = token.token_hash(self._cti_of(self.revoked_code))
        self.policy = policy or Policy()
        self.root_key_path = self.dir / "root.pub"
        self.bundle_path = self.dir / "bundle.cbor"
        keys.save_public(self.root_key_path, self.root.public_key(), overwrite=True)
        self.publish(seq)

    # ------------------------------------------------------------------ trust material

    def bundle_bytes(self, seq: int, iat: int | None = None, **changes: object) -> bytes:
        """A signed bundle; ``changes`` override build() arguments (tests make bad ones this way)."""
        t = self.now if iat is None else iat
        args: dict[str, object] = dict(
            seq=seq, iat=t,
            issuers=[IssuerKey(self.issuer.public_key(), cose.ES256, iss=ISSUER),
                     IssuerKey(self.issuer_ed.public_key(), cose.EDDSA, iss=ISSUER)],
            status={self.red_holder: ("red", t), self.yellow_holder: ("yellow", t)},
            revoked_kids=[cose.kid_of(self.retired.public_key())],
            revoked_cti={self.revoked_hash: t + 30 * 86400},
            policy=self.policy)
        args.update(changes)
        return bundle.build(self.street, self.endorsement, **args)  # type: ignore[arg-type]

    def publish(self, seq: int, iat: int | None = None, **changes: object) -> bytes:
        raw = self.bundle_bytes(seq, iat, **changes)
        write_atomic(self.bundle_path, raw, parents=True)
        return raw

    # ------------------------------------------------------------------ codes

    def _claims(self, kind: str, colour: str, holder: bytes, iat: int, valid: int,
                scope: tuple[str, ...] | None = None) -> Claims:
        return Claims(iss=ISSUER, sub=holder, iat=iat, exp=iat + valid, cti=token.new_cti(), kind=kind,
                      colour=colour, scope=scope or (self.compound,), as_of=iat)

    def _sign(self, claims: Claims, key: cose.PrivateKey | None = None) -> str:
        return token.issue(claims, key or self.issuer)

    @staticmethod
    def _cti_of(text: str) -> bytes:
        return token.decode_claims(cose.parse(token.unwrap(text)).payload).cti

    def code(self, what: str, holder: bytes, now: float, alg: str = "ES256") -> str:
        """A code as a resident of kind ``what`` would show it at wall time ``now``."""
        t = int(now)
        key = self.issuer_ed if alg == "EdDSA" else self.issuer
        if what == "green":
            return self._sign(self._claims("dynamic", "green", holder, t, 60), key)
        if what == "paper":        # a printed code: valid 30 days, its colour from the status list
            return self._sign(self._claims("paper", "green", holder, t, 30 * 86400), key)
        if what == "yellow":
            return self._sign(self._claims("dynamic", "yellow", holder, t, 60), key)
        if what == "red":          # a paper code: green on paper, red in the street's status list
            return self._sign(self._claims("paper", "green", self.red_holder, t, 30 * 86400), key)
        if what == "expired":      # a screenshot from ten minutes ago
            return self._sign(self._claims("dynamic", "green", holder, t - 600, 60), key)
        if what == "wrong_scope":
            return self._sign(self._claims("dynamic", "green", holder, t, 60, scope=("another-compound",)), key)
        if what == "revoked":      # a paper code reported lost (挂失)
            return self.revoked_code
        if what == "forged":
            return self.forged(self._claims("dynamic", "green", holder, t, 60))
        if what in ("volunteer", "inspector"):      # badges
            return self._sign(self._claims(what, "green", holder, t, 12 * 3600), key)
        raise ValueError(f"no drill code for {what!r}")

    def forged(self, claims: Claims) -> str:
        """What a forger makes: the real issuer's kid in the header, their own signature."""
        msg = cose.parse(token.unwrap(self._sign(claims, self.forger)))
        protected = cbor2.dumps({cose.H_ALG: cose.ES256, cose.H_KID: cose.kid_of(self.issuer.public_key())})
        raw = cbor2.dumps(cbor2.CBORTag(cose.TAG_SIGN1, [protected, {}, msg.payload, msg.signature]))
        return token.PREFIX + base45.encode(raw)
