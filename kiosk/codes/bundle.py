"""The trust bundle: one signed CBOR document telling a kiosk whom to trust and who is not green.

File format (docs/health-codes.md §4.2): a COSE_Sign1 by a **street key**; its protected
header carries, besides ``alg`` and ``kid``, an **endorsement** (label -65537): a COSE_Sign1 by
the **root key** pinned in the kiosk config over the street key, its algorithm, its street id and
validity. The kiosk therefore needs nothing but the root public key to check a bundle.

Bundle payload (text keys)::

    {"typ": "gk-bundle", "v": 1, "seq": int, "iat": int, "street": str,
     "issuers": [{"kid": b8, "alg": -7|-8, "key": SPKI DER, "iss": str?, "scopes": [str]?,
                  "nbf": int?, "exp": int?}],
     "revoked_kids": [b8], "revoked_cti": [[SHA-256(cti)[:16], until]],
     "status": [[holder_ref b16, colour 0|1|2, as_of]],
     "policy": {"max_age": s, "stale_action": "dynamic_only"|"volunteer",
                "max_validity": {kind: s}, "paper_default": "green"|"yellow", "reuse_window": s},
     "publicity": {...}?}        # the loudspeaker's rounds (kiosk/codes/publicity.py), optional

Compatibility: a kiosk reads the fields it knows and ignores the others, so a section added
later (``publicity``) never makes an older kiosk refuse a bundle it would have accepted. The
same rule holds the other way: a malformed ``publicity`` section leaves the trust material
accepted and only the schedule refused (``Bundle.publicity_error``).

:func:`build` is what the street server calls to publish a bundle; :func:`load` is what the
kiosk calls to accept one. Both raise :class:`kiosk.errors.BundleError` with a reason a person
can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import cbor2

from kiosk.codes import cose
from kiosk.codes import publicity as publicity_mod
from kiosk.codes.token import COLOUR_NAMES, COLOURS, KINDS
from kiosk.errors import BundleError, CoseError

H_ENDORSEMENT = -65537
BUNDLE_TYPE = "gk-bundle"
ENDORSEMENT_TYPE = "gk-street-key"
FORMAT_VERSION = 1
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
DYNAMIC_MAX_S = 120                 # docs/health-codes.md §2.5: dynamic phone codes live at most 120 s
STALE_ACTIONS = ("dynamic_only", "volunteer")
DEFAULT_MAX_VALIDITY: dict[str, int] = {
    "dynamic": DYNAMIC_MAX_S, "paper": 30 * 86400, "visitor": 86400, "volunteer": 366 * 86400,
    "inspector": 366 * 86400,
}


@dataclass(frozen=True)
class Policy:
    """Street policy the kiosk applies (carried, signed, in the bundle)."""

    max_age_s: int = 2 * 86400                      # older than this → stale_action
    stale_action: str = "dynamic_only"              # or "volunteer": every code goes to the volunteer
    max_validity_s: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_VALIDITY))
    paper_default: str = "green"                    # colour of a paper holder absent from the status list
    reuse_window_s: int = 60                        # a paper/visitor code used again this soon is a replay

    def to_cbor_obj(self) -> dict[str, Any]:
        return {"max_age": self.max_age_s, "stale_action": self.stale_action,
                "max_validity": dict(self.max_validity_s), "paper_default": self.paper_default,
                "reuse_window": self.reuse_window_s}

    def max_validity(self, kind: str) -> int:
        limit = self.max_validity_s.get(kind, DEFAULT_MAX_VALIDITY[kind])
        return min(limit, DYNAMIC_MAX_S) if kind == "dynamic" else limit


@dataclass(frozen=True)
class IssuerKey:
    """One trusted code-signing key, the one algorithm allowed with it, and its limits."""

    key: cose.PublicKey
    alg: int
    iss: str | None = None                          # None: any issuer name
    scopes: tuple[str, ...] | None = None           # None: any compound
    not_before: int | None = None
    not_after: int | None = None

    @property
    def kid(self) -> bytes:
        return cose.kid_of(self.key)

    def to_cbor_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"kid": self.kid, "alg": self.alg, "key": cose.spki_der(self.key)}
        if self.iss is not None:
            obj["iss"] = self.iss
        if self.scopes is not None:
            obj["scopes"] = list(self.scopes)
        if self.not_before is not None:
            obj["nbf"] = self.not_before
        if self.not_after is not None:
            obj["exp"] = self.not_after
        return obj


@dataclass(frozen=True)
class Endorsement:
    """The root's word that a street key may sign bundles."""

    key: cose.PublicKey
    alg: int
    street: str
    not_before: int
    not_after: int


@dataclass(frozen=True)
class Bundle:
    """An accepted trust bundle, indexed for the verifier."""

    seq: int
    iat: int
    street: str
    issuers: Mapping[bytes, tuple[IssuerKey, ...]]  # kid → keys (8-byte kids may collide: try all)
    revoked_kids: frozenset[bytes]
    revoked_cti: Mapping[bytes, int]                # SHA-256(cti)[:16] → until (for pruning)
    status: Mapping[bytes, tuple[str, int]]         # holder_ref → (colour, as_of)
    policy: Policy
    raw: bytes
    endorsement: Endorsement
    publicity: publicity_mod.Schedule | None = None   # the loudspeaker's rounds, when the street sends them
    publicity_error: str | None = None               # why a publicity section present was not taken

    def age_s(self, now: float) -> float:
        return now - self.iat

    def stale(self, now: float) -> bool:
        return self.age_s(now) > self.policy.max_age_s

    def describe(self) -> str:
        n_issuers = sum(len(v) for v in self.issuers.values())
        return (f"seq {self.seq} from street {self.street} issued at {self.iat} "
                f"({n_issuers} issuer keys, {len(self.revoked_kids)} revoked keys, "
                f"{len(self.revoked_cti)} revoked codes, {len(self.status)} status entries)")


# ------------------------------------------------------------------ signing (street server side)

def endorse(root_key: cose.PrivateKey, street_key: cose.PublicKey, street: str,
            not_before: int, not_after: int) -> bytes:
    """The root signs a street key (an offline ceremony; the result ships beside the street key)."""
    if not_after <= not_before:
        raise BundleError("endorsement must end after it begins")
    payload = {"typ": ENDORSEMENT_TYPE, "key": cose.spki_der(street_key), "alg": cose.alg_of(street_key),
               "street": street, "nbf": int(not_before), "exp": int(not_after)}
    return cose.sign1(cbor2.dumps(payload), root_key)


def build(street_key: cose.PrivateKey, endorsement: bytes, *, seq: int, iat: int,
          issuers: Iterable[IssuerKey], status: Mapping[bytes, tuple[str, int]] | None = None,
          revoked_kids: Iterable[bytes] = (), revoked_cti: Mapping[bytes, int] | None = None,
          policy: Policy | None = None, street: str | None = None,
          publicity: publicity_mod.Schedule | None = None) -> bytes:
    """Sign a bundle. ``seq`` must exceed every seq published before (the kiosk refuses rollback)."""
    policy = policy or Policy()
    _check_policy(policy)
    if seq < 0:
        raise BundleError("seq must not be negative")
    try:
        end = _endorsement_payload(cose.parse(endorsement))
    except (CoseError, BundleError) as exc:
        raise BundleError(f"endorsement is malformed: {exc}") from None
    if cose.spki_der(end.key) != cose.spki_der(street_key.public_key()):
        raise BundleError("the endorsement is for another street key")
    if not end.not_before <= iat <= end.not_after:
        raise BundleError(f"the street key's endorsement is not valid at iat {iat} "
                          f"({end.not_before}…{end.not_after})")
    status_rows = []
    for ref, (colour, as_of) in sorted((status or {}).items()):
        if len(ref) != 16 or colour not in COLOURS:
            raise BundleError(f"status entry {ref.hex()}: need a 16-byte holder reference and a colour")
        status_rows.append([ref, COLOURS[colour], int(as_of)])
    payload: dict[str, Any] = {
        "typ": BUNDLE_TYPE, "v": FORMAT_VERSION, "seq": int(seq), "iat": int(iat),
        "street": street or end.street,
        "issuers": [i.to_cbor_obj() for i in issuers],
        "revoked_kids": sorted(set(revoked_kids)),
        "revoked_cti": [[h, int(u)] for h, u in sorted((revoked_cti or {}).items())],
        "status": status_rows,
        "policy": policy.to_cbor_obj(),
    }
    if publicity is not None:
        payload["publicity"] = publicity.to_cbor_obj()
        publicity_mod.parse(payload["publicity"])          # what a kiosk will accept, or PublicityError
    for i in payload["issuers"]:
        if i["alg"] != cose.alg_of(cose.load_public_der(i["key"])):
            raise BundleError(f"issuer {i['kid'].hex()}: alg {i['alg']} does not fit its key type")
    return cose.sign1(cbor2.dumps(payload), street_key, {H_ENDORSEMENT: endorsement})


# ------------------------------------------------------------------ checking (kiosk side)

def load(raw: bytes, root_key: cose.PublicKey) -> Bundle:
    """Check a bundle end to end against the pinned root key; BundleError says what is wrong."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        msg = cose.parse(raw, understood=frozenset({H_ENDORSEMENT}))
    except CoseError as exc:
        raise BundleError(f"not a signed bundle: {exc}") from None
    endorsement_raw = msg.protected.get(H_ENDORSEMENT)
    if not isinstance(endorsement_raw, bytes):
        raise BundleError("bundle carries no endorsement of its signing key")
    try:
        end_msg = cose.parse(endorsement_raw)
    except CoseError as exc:
        raise BundleError(f"endorsement is malformed: {exc}") from None
    if end_msg.alg != cose.alg_of(root_key) or end_msg.kid != cose.kid_of(root_key):
        raise BundleError("street key is not endorsed by the pinned root key (kid/alg differ)")
    if not cose.verify(end_msg, root_key):
        raise BundleError("endorsement signature does not verify against the pinned root key")
    end = _endorsement_payload(end_msg)
    if msg.alg != end.alg or msg.kid != cose.kid_of(end.key):
        raise BundleError("bundle is not signed by the endorsed street key (kid/alg differ)")
    if not cose.verify(msg, end.key):
        raise BundleError("bundle signature does not verify against the endorsed street key")
    return _bundle_payload(msg.payload, raw, end)


def _endorsement_payload(msg: cose.Sign1) -> Endorsement:
    try:
        p = cose.loads_exact(msg.payload, "endorsement payload")
    except CoseError as exc:
        raise BundleError(str(exc)) from None
    if not isinstance(p, Mapping) or p.get("typ") != ENDORSEMENT_TYPE:
        raise BundleError("endorsement payload is not a street-key endorsement")
    try:
        key = cose.load_public_der(p.get("key"))  # type: ignore[arg-type]
    except (CoseError, TypeError) as exc:
        raise BundleError(f"endorsed key: {exc}") from None
    alg, street, nbf, exp = p.get("alg"), p.get("street"), p.get("nbf"), p.get("exp")
    if alg != cose.alg_of(key) or not isinstance(street, str) or not _is_int(nbf) or not _is_int(exp):
        raise BundleError("endorsement needs alg (fitting the key), street, nbf and exp")
    return Endorsement(key=key, alg=alg, street=street, not_before=nbf, not_after=exp)


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _seq(v: object) -> Sequence[Any]:
    if not isinstance(v, Sequence) or isinstance(v, (str, bytes)):
        raise BundleError("expected an array")
    return v


def _bundle_payload(payload: bytes, raw: bytes, end: Endorsement) -> Bundle:
    try:
        p = cose.loads_exact(payload, "bundle payload")
    except CoseError as exc:
        raise BundleError(str(exc)) from None
    if not isinstance(p, Mapping) or p.get("typ") != BUNDLE_TYPE:
        raise BundleError("payload is not a trust bundle")
    if p.get("v") != FORMAT_VERSION:
        raise BundleError(f"bundle format version {p.get('v')!r} is not supported (want {FORMAT_VERSION})")
    seq, iat, street = p.get("seq"), p.get("iat"), p.get("street")
    if not _is_int(seq) or seq < 0 or not _is_int(iat) or not isinstance(street, str):
        raise BundleError("bundle needs integer seq and iat and a street id")
    if not end.not_before <= iat <= end.not_after:
        raise BundleError(f"bundle iat {iat} is outside the street key's endorsement "
                          f"({end.not_before}…{end.not_after})")
    try:
        issuers: dict[bytes, tuple[IssuerKey, ...]] = {}
        for entry in _seq(p.get("issuers", [])):
            ik = _issuer(entry)
            issuers[ik.kid] = issuers.get(ik.kid, ()) + (ik,)
        revoked_kids = frozenset(_bytes(k, 8, "revoked kid") for k in _seq(p.get("revoked_kids", [])))
        revoked_cti: dict[bytes, int] = {}
        for row in _seq(p.get("revoked_cti", [])):
            h, until = _seq(row)
            if not _is_int(until):
                raise BundleError("revoked_cti entries are [hash, until]")
            revoked_cti[_bytes(h, 16, "revoked token hash")] = until
        status: dict[bytes, tuple[str, int]] = {}
        for row in _seq(p.get("status", [])):
            ref, colour, as_of = _seq(row)
            if colour not in COLOUR_NAMES or isinstance(colour, bool) or not _is_int(as_of):
                raise BundleError("status entries are [holder_ref, colour 0-2, as_of]")
            status[_bytes(ref, 16, "holder reference")] = (COLOUR_NAMES[colour], as_of)
        policy = _policy(p.get("policy", {}))
    except BundleError:
        raise
    except (ValueError, TypeError) as exc:     # unpacking a malformed row, an unhashable value
        raise BundleError(f"malformed bundle entry: {exc}") from None
    schedule, problem = None, None
    if "publicity" in p:
        try:
            schedule = publicity_mod.parse(p["publicity"])
        except publicity_mod.PublicityError as exc:
            problem = str(exc)
    return Bundle(seq=seq, iat=iat, street=street, issuers=issuers, revoked_kids=revoked_kids,
                  revoked_cti=revoked_cti, status=status, policy=policy, raw=raw, endorsement=end,
                  publicity=schedule, publicity_error=problem)


def _bytes(v: object, n: int, what: str) -> bytes:
    if not isinstance(v, bytes) or len(v) != n:
        raise BundleError(f"{what} must be {n} bytes")
    return v


def _issuer(entry: object) -> IssuerKey:
    if not isinstance(entry, Mapping):
        raise BundleError("issuer entries must be maps")
    try:
        key = cose.load_public_der(entry.get("key"))  # type: ignore[arg-type]
    except (CoseError, TypeError) as exc:
        raise BundleError(f"issuer key: {exc}") from None
    kid, alg = entry.get("kid"), entry.get("alg")
    if kid != cose.kid_of(key):
        raise BundleError(f"issuer kid {kid!r} does not match its key")
    if alg != cose.alg_of(key):
        raise BundleError(f"issuer {cose.kid_of(key).hex()}: alg {alg!r} does not fit its key type")
    iss, scopes, nbf, exp = entry.get("iss"), entry.get("scopes"), entry.get("nbf"), entry.get("exp")
    if iss is not None and not isinstance(iss, str):
        raise BundleError("issuer iss must be text")
    if scopes is not None:
        scopes = tuple(_seq(scopes))
        if not all(isinstance(s, str) and s for s in scopes):
            raise BundleError("issuer scopes must be texts")
    if (nbf is not None and not _is_int(nbf)) or (exp is not None and not _is_int(exp)):
        raise BundleError("issuer nbf/exp must be integers")
    return IssuerKey(key=key, alg=alg, iss=iss, scopes=scopes, not_before=nbf, not_after=exp)


def _policy(obj: object) -> Policy:
    if not isinstance(obj, Mapping):
        raise BundleError("policy must be a map")
    base = Policy()
    max_validity = dict(base.max_validity_s)
    mv = obj.get("max_validity", {})
    if not isinstance(mv, Mapping):
        raise BundleError("policy max_validity must be a map")
    for kind, seconds in mv.items():
        if kind not in KINDS or not _is_int(seconds) or seconds <= 0:
            raise BundleError(f"policy max_validity[{kind!r}] must be a positive integer for a known kind")
        max_validity[kind] = seconds
    policy = Policy(max_age_s=obj.get("max_age", base.max_age_s),
                    stale_action=obj.get("stale_action", base.stale_action),
                    max_validity_s=max_validity,
                    paper_default=obj.get("paper_default", base.paper_default),
                    reuse_window_s=obj.get("reuse_window", base.reuse_window_s))
    _check_policy(policy)
    return policy


def _check_policy(policy: Policy) -> None:
    if not _is_int(policy.max_age_s) or policy.max_age_s <= 0:
        raise BundleError("policy max_age must be a positive number of seconds")
    if policy.stale_action not in STALE_ACTIONS:
        raise BundleError(f"policy stale_action must be one of {', '.join(STALE_ACTIONS)}")
    if policy.paper_default not in ("green", "yellow"):
        raise BundleError("policy paper_default must be green or yellow")
    if not _is_int(policy.reuse_window_s) or policy.reuse_window_s < 0:
        raise BundleError("policy reuse_window must be a non-negative number of seconds")
