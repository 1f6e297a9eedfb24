"""`kiosk codes keygen|issue|verify|bundle`: the street office's and technician's code tools.

* ``keygen`` makes root, street (endorsed by the root), issuer and pseudonym keys; private keys
  are written 0600 and never overwritten without ``--force``.
* ``issue`` signs one code and prints its text; ``--png`` also writes the QR (paper codes and
  badges as a printable A6 page).
* ``verify`` checks a payload, QR images, or — with neither — one payload per stdin line, and
  prints one JSON verdict per payload (``{"reason": ..., ...}``). It never changes kiosk state.
* ``bundle`` builds and signs a trust bundle from issuer keys, a status CSV and revocations.

Each prints JSON lines on stdout; problems are one line on stderr and exit 1 (kiosk.cli.main).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from kiosk.clock import SystemClock
from kiosk.codes import bundle as bundle_mod
from kiosk.codes import cose, keys, publicity, render, token
from kiosk.codes.bundle import IssuerKey, Policy
from kiosk.codes.statuscsv import parse_time, read_status_csv
from kiosk.codes.trust import TrustStore, load_root_key
from kiosk.codes.verifier import CodeVerifier, build
from kiosk.config import zone
from kiosk.core.verdict import CodeVerdict
from kiosk.durable import write_atomic
from kiosk.errors import CodeError, TokenError
from kiosk.i18n import _

ROLES = ("root", "street", "issuer", "pseudonym")
DEFAULT_VALID_S = {"dynamic": 60, "paper": 30 * 86400, "visitor": 86400, "volunteer": 180 * 86400,
                   "inspector": 180 * 86400}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    k = sub.add_parser("keygen", help="make a root, street, issuer or pseudonym key")
    k.add_argument("--role", choices=ROLES, required=True)
    k.add_argument("--out", required=True, help="path prefix: writes PREFIX.key (0600), PREFIX.pub, "
                                                 "and for street keys PREFIX.endorsement")
    k.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256")
    k.add_argument("--root-key", help="street keys: the root private key that endorses it")
    k.add_argument("--street", help="street keys: street id, e.g. CN-410105-S07")
    k.add_argument("--days", type=int, default=365, help="street keys: endorsement validity (default 365)")
    k.add_argument("--force", action="store_true", help="replace existing files")

    i = sub.add_parser("issue", help="sign one GK1 code; print its text (and write a PNG)")
    i.add_argument("--key", required=True, help="issuer private key")
    i.add_argument("--iss", required=True, help="issuer id carried in the code")
    i.add_argument("--kind", choices=tuple(token.KINDS), default="dynamic")
    i.add_argument("--colour", choices=tuple(token.COLOURS), default="green")
    i.add_argument("--scope", action="append", required=True, help="compound (or compound/gate, or *); repeatable")
    who = i.add_mutually_exclusive_group(required=True)
    who.add_argument("--holder-ref", help="holder reference, 32 hex digits")
    who.add_argument("--id-file", help="file holding the ID number ('-' = stdin); needs --pseudonym-key")
    i.add_argument("--pseudonym-key", help="street pseudonym key file (for --id-file)")
    i.add_argument("--config", help="take the pseudonym key from this config's codes.pseudonym_key_file")
    i.add_argument("--valid", type=int, help="seconds of validity (default: 60 dynamic, 30 days paper, "
                                              "1 day visitor, 180 days volunteer)")
    i.add_argument("--not-before", help="first valid time (Unix seconds or ISO 8601)")
    i.add_argument("--now", help="issue as of this time (Unix seconds or ISO 8601; tests and drills)")
    i.add_argument("--png", help="also write the QR here (paper codes and badges: an A6 page)")
    i.add_argument("--tz", default="Asia/Shanghai",
                   help="local time zone of --not-before without a zone and of the printed expiry "
                        "(default Asia/Shanghai)")
    i.add_argument("--json", action="store_true", help="print a JSON line instead of the bare text")

    v = sub.add_parser("verify", help="verify payloads or QR images; one JSON verdict per payload")
    v.add_argument("payload", nargs="?", help="the code text; omit to read one payload per stdin line")
    v.add_argument("--image", action="append", default=[], help="a QR image to decode and verify; repeatable")
    v.add_argument("--config", help="take root key, bundle, compound, gate and skew from this kiosk config")
    v.add_argument("--root-key", help="pinned root public key (PEM)")
    v.add_argument("--bundle", help="trust bundle file")
    v.add_argument("--compound", help="compound this check is for")
    v.add_argument("--gate", default="main", help="gate name (default main)")
    v.add_argument("--skew", type=float, help="allowed clock skew in seconds (default 30)")
    v.add_argument("--now", help="verify as of this time (Unix seconds or ISO 8601)")
    v.add_argument("--mark", action="store_true", help="treat each ok code as used, so a later repeat is a replay")

    b = sub.add_parser("bundle", help="build and sign a trust bundle")
    b.add_argument("--street-key", required=True, help="street private key")
    b.add_argument("--endorsement", required=True, help="the street key's endorsement (from keygen)")
    b.add_argument("--out", required=True, help="bundle file to write (atomically)")
    b.add_argument("--issuer", action="append", default=[], metavar="SPEC",
                   help="PUB[,iss=NAME][,scope=A+B][,not_before=T][,not_after=T]; repeatable")
    b.add_argument("--status", help="status CSV (holder_ref|id_number, colour[, as_of])")
    b.add_argument("--pseudonym-key", help="pseudonym key, if the CSV has id_number")
    b.add_argument("--config", help="take the pseudonym key from this config's codes.pseudonym_key_file")
    b.add_argument("--revoke-kid", action="append", default=[], metavar="HEX", help="revoked issuer kid; repeatable")
    b.add_argument("--revoke-token", action="append", default=[], metavar="HASH[:UNTIL]",
                   help="revoked code by its token_hash (as logged); repeatable")
    b.add_argument("--seq", type=int, help="bundle sequence number (default: the current Unix time)")
    b.add_argument("--max-age", type=int, default=Policy.max_age_s, help="seconds before the bundle is stale")
    b.add_argument("--stale-action", choices=bundle_mod.STALE_ACTIONS, default=Policy.stale_action)
    b.add_argument("--paper-default", choices=("green", "yellow"), default=Policy.paper_default)
    b.add_argument("--reuse-window", type=int, default=Policy.reuse_window_s)
    b.add_argument("--max-validity", action="append", default=[], metavar="KIND=SECONDS")
    b.add_argument("--now", help="sign as of this time (Unix seconds or ISO 8601)")
    b.add_argument("--publicity", metavar="TOML",
                   help="the loudspeaker's publicity rounds: a schedule file (README 'Publicity rounds')")


def run(args: argparse.Namespace) -> int:
    return {"keygen": keygen, "issue": issue, "verify": verify, "bundle": make_bundle}[args.action](args)


def _now(text: str | None) -> int:
    return int(time.time()) if text is None else parse_time(text, "--now")


def _print(obj: dict[str, Any], out: TextIO | None = None) -> None:
    print(json.dumps(obj, ensure_ascii=False), file=out or sys.stdout, flush=True)


# ------------------------------------------------------------------ keygen

def _existing_dir(path: Path, option: str) -> Path:
    """An output's directory must exist: a mistyped path creates nothing and says so."""
    if not path.parent.is_dir():
        raise CodeError(_("{option} {path}: directory {dir} does not exist").format(
            option=option, path=path, dir=path.parent))
    return path


def keygen(args: argparse.Namespace) -> int:
    prefix = _existing_dir(Path(args.out), "--out")
    private = prefix.with_name(prefix.name + ".key")
    if args.role == "pseudonym":
        keys.save_pseudonym_key(private, keys.new_pseudonym_key(), overwrite=args.force)
        _print({"role": "pseudonym", "private": str(private)})
        return 0
    if args.role == "street" and not (args.root_key and args.street):
        raise CodeError(_("a street key needs --root-key (to endorse it) and --street"))
    if args.days < 1:
        raise CodeError(_("--days must be at least 1"))
    root = keys.load_private(Path(args.root_key)) if args.role == "street" else None
    key = keys.generate(args.alg)
    public = prefix.with_name(prefix.name + ".pub")
    for path in (private, public):
        if path.exists() and not args.force:
            raise CodeError(_("{path} already exists (refusing to overwrite; pass --force to replace it)").format(
                path=path))
    keys.save_private(private, key, overwrite=args.force)
    keys.save_public(public, key.public_key(), overwrite=args.force)
    out: dict[str, Any] = {"role": args.role, "alg": args.alg, "kid": cose.kid_of(key.public_key()).hex(),
                           "private": str(private), "public": str(public)}
    if root is not None:
        now = int(time.time())
        endorsement = bundle_mod.endorse(root, key.public_key(), args.street, now - 300, now + args.days * 86400)
        path = prefix.with_name(prefix.name + ".endorsement")
        write_atomic(path, endorsement, overwrite=True)
        out.update(endorsement=str(path), street=args.street, root_kid=cose.kid_of(root.public_key()).hex())
    _print(out)
    return 0


# ------------------------------------------------------------------ issue

def _pseudonym_path(args: argparse.Namespace) -> Path | None:
    if args.pseudonym_key:
        return Path(args.pseudonym_key)
    if args.config:
        from kiosk import config as config_mod
        return config_mod.load(args.config).codes.pseudonym_key_file
    return None


def _holder(args: argparse.Namespace) -> bytes:
    if args.holder_ref:
        try:
            ref = bytes.fromhex(args.holder_ref)
        except ValueError:
            ref = b""
        if len(ref) != 16:
            raise CodeError(_("--holder-ref must be 32 hex digits"))
        return ref
    path = _pseudonym_path(args)
    if path is None:
        raise CodeError(_("--id-file needs --pseudonym-key (or --config with codes.pseudonym_key_file)"))
    pkey = keys.load_pseudonym_key(path)
    try:
        text = sys.stdin.read() if args.id_file == "-" else Path(args.id_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodeError(_("cannot read the ID number from {file}: {error}").format(
            file=args.id_file, error=exc)) from None
    return keys.holder_ref(pkey, text)


def issue(args: argparse.Namespace) -> int:
    key = keys.load_private(Path(args.key))
    now = _now(args.now)
    valid = DEFAULT_VALID_S[args.kind] if args.valid is None else args.valid
    if valid < 1:
        raise CodeError(_("--valid must be at least 1 second"))
    if args.kind == "dynamic" and valid > bundle_mod.DYNAMIC_MAX_S:
        raise CodeError(_("dynamic codes live at most {max} s (--valid {valid})").format(
            max=bundle_mod.DYNAMIC_MAX_S, valid=valid))
    tz = zone(args.tz, "--tz")
    nbf = parse_time(args.not_before, "--not-before", tz) if args.not_before else None
    claims = token.Claims(iss=args.iss, sub=_holder(args), iat=now, exp=(nbf or now) + valid,
                          cti=token.new_cti(), kind=args.kind, colour=args.colour, scope=tuple(args.scope),
                          nbf=nbf, as_of=now)
    try:
        text = token.issue(claims, key)
    except TokenError as exc:
        raise CodeError(str(exc)) from None
    if args.png:
        _existing_dir(Path(args.png), "--png")
        if args.kind in ("paper", "volunteer", "inspector"):
            render.save_a6(text, Path(args.png), render.paper_caption(args.kind, claims.exp, claims.scope, tz))
        else:
            render.save_png(text, Path(args.png))
    if args.json:
        _print({"payload": text, "kind": args.kind, "kid": cose.kid_of(key.public_key()).hex(),
                "token_hash": token.token_hash(claims.cti).hex(), "holder_ref": claims.sub.hex(),
                "iat": claims.iat, "exp": claims.exp, "png": args.png})
    else:
        print(text, flush=True)
    return 0


# ------------------------------------------------------------------ verify

class _FixedWallClock(SystemClock):
    """The real monotonic clock with the wall clock pinned (``--now``)."""

    def __init__(self, wall: float) -> None:
        super().__init__(assume_synced=True)
        self._wall = wall

    def wall(self) -> float:
        return self._wall


def _verifier(args: argparse.Namespace) -> CodeVerifier:
    clock = SystemClock() if args.now is None else _FixedWallClock(_now(args.now))
    if args.config:
        from kiosk import config as config_mod
        cfg = config_mod.load(args.config)
        if cfg.codes.root_key is None:
            raise CodeError(_("{config}: codes.root_key is not set").format(config=args.config))
        root_path, state_dir = cfg.codes.root_key, cfg.kiosk.state_dir
        bundle_path = cfg.bundle_path
        compound, gate = cfg.kiosk.compound, cfg.kiosk.gate
        skew, max_payload = cfg.codes.skew_s, cfg.codes.max_payload_bytes
        last_good: Path | None = cfg.last_good_bundle_path
    else:
        if not (args.root_key and args.bundle and args.compound):
            raise CodeError(_("give --config, or all of --root-key, --bundle and --compound"))
        root_path, bundle_path, state_dir = Path(args.root_key), Path(args.bundle), None
        compound, gate, skew, max_payload, last_good = args.compound, args.gate, 30.0, 4096, None
    if args.bundle:
        bundle_path = Path(args.bundle)
    if args.compound:
        compound = args.compound
    if args.skew is not None:
        skew = args.skew
    # The command says what is wrong with the trust material itself, in one line: the store's own
    # log lines (meant for the running kiosk's journal) would repeat it on stderr.
    logging.getLogger("kiosk.codes.trust").setLevel(logging.CRITICAL)
    trust = TrustStore(load_root_key(Path(root_path)), Path(bundle_path), last_good, write_last_good=False)
    if trust.bundle is None:
        raise CodeError(trust.message)
    if trust.bundle.raw != _read_or_none(Path(bundle_path)):
        print("kiosk codes verify: " + _("warning: {message}").format(message=trust.message), file=sys.stderr)
    return build(trust, clock, compound=compound, gate=gate, skew_s=skew, max_payload_bytes=max_payload,
                 state_dir=state_dir, persist=False)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def verdict_json(v: CodeVerdict) -> dict[str, Any]:
    out = {"reason": v.reason, "ok": v.ok}
    out.update({k: val for k, val in asdict(v).items() if k != "reason" and val is not None})
    return out


def verify(args: argparse.Namespace) -> int:
    verifier = _verifier(args)

    def one(payload: bytes, **extra: Any) -> None:
        verdict = verifier.verify(payload)
        if args.mark and verdict.ok:
            verifier.mark_used(verdict)
        _print({**verdict_json(verdict), **extra})

    if args.payload is not None:
        one(args.payload.encode("utf-8"))
    for image in args.image:
        payloads = render.decode_image(Path(image))
        if not payloads:
            _print({"reason": "unsupported_format", "ok": False, "file": image, "error": "no QR code found"})
        for payload in payloads:
            one(payload, file=image)
    if args.payload is None and not args.image:
        for line in sys.stdin.buffer:
            line = line.rstrip(b"\r\n")
            if line:
                one(line)
    return 0


# ------------------------------------------------------------------ bundle

def _issuer_spec(spec: str) -> IssuerKey:
    path, *opts = spec.split(",")
    key = keys.load_public(Path(path))
    fields: dict[str, Any] = {}
    for opt in opts:
        name, sep, value = opt.partition("=")
        if not sep or not value:
            raise CodeError(_("--issuer {spec!r}: {opt!r} is not NAME=VALUE").format(spec=spec, opt=opt))
        if name == "iss":
            fields["iss"] = value
        elif name == "scope":
            fields["scopes"] = tuple(s for s in value.split("+") if s)
        elif name in ("not_before", "not_after"):
            fields[name] = parse_time(value, f"--issuer {name}")
        else:
            raise CodeError(_("--issuer {spec!r}: unknown option {name!r} (iss, scope, not_before, not_after)").format(
                spec=spec, name=name))
    return IssuerKey(key=key, alg=cose.alg_of(key), **fields)


def _hex(text: str, n: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != n:
        raise CodeError(_("{what} {text!r} must be {n} hex digits").format(what=what, text=text, n=2 * n))
    return raw


def make_bundle(args: argparse.Namespace) -> int:
    now = _now(args.now)
    street_key = keys.load_private(Path(args.street_key))
    try:
        endorsement = Path(args.endorsement).read_bytes()
    except OSError as exc:
        raise CodeError(_("endorsement {path} cannot be read: {error}").format(
            path=args.endorsement, error=exc.strerror or exc)) from None
    ppath = _pseudonym_path(args)
    pkey = keys.load_pseudonym_key(ppath) if ppath is not None else None
    status = read_status_csv(Path(args.status), now, pkey) if args.status else {}
    revoked_cti: dict[bytes, int] = {}
    for item in args.revoke_token:
        h, _sep, until = item.partition(":")
        revoked_cti[_hex(h, 16, "--revoke-token")] = (parse_time(until, "--revoke-token until") if until
                                                      else now + bundle_mod.DEFAULT_MAX_VALIDITY["paper"])
    max_validity = dict(bundle_mod.DEFAULT_MAX_VALIDITY)
    for item in args.max_validity:
        kind, _sep, seconds = item.partition("=")
        if kind not in token.KINDS or not seconds.isdigit() or int(seconds) < 1:
            raise CodeError(_("--max-validity {item!r}: want KIND=SECONDS with KIND one of {kinds}").format(
                item=item, kinds=", ".join(token.KINDS)))
        max_validity[kind] = int(seconds)
    policy = Policy(max_age_s=args.max_age, stale_action=args.stale_action, max_validity_s=max_validity,
                    paper_default=args.paper_default, reuse_window_s=args.reuse_window)
    issuers = [_issuer_spec(s) for s in args.issuer]
    seq = now if args.seq is None else args.seq
    schedule = _publicity(Path(args.publicity)) if args.publicity else None
    raw = bundle_mod.build(street_key, endorsement, seq=seq, iat=now, issuers=issuers, status=status,
                           revoked_kids=[_hex(k, 8, "--revoke-kid") for k in args.revoke_kid],
                           revoked_cti=revoked_cti, policy=policy, publicity=schedule)
    write_atomic(_existing_dir(Path(args.out), "--out"), raw)
    _print({"out": args.out, "seq": seq, "iat": now, "bytes": len(raw), "issuers": len(issuers),
            "status": len(status), "revoked_kids": len(args.revoke_kid), "revoked_tokens": len(revoked_cti),
            "policy": asdict(policy), "notices": len(schedule.notices) if schedule else 0})
    return 0


def _publicity(path: Path) -> publicity.Schedule:
    """A schedule file (TOML: utc_offset_min, quiet, [[notices]]), checked against the kiosks' catalogue."""
    import tomllib

    from kiosk.devices import messages
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CodeError(_("--publicity {path} cannot be read: {error}").format(
            path=path, error=exc.strerror or exc)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CodeError(_("--publicity {path} is not valid TOML: {error}").format(path=path, error=exc)) from None
    try:
        return publicity.parse(data, known_clips=set(messages.keys()))
    except publicity.PublicityError as exc:
        raise CodeError(f"--publicity {path}: {exc}") from None

