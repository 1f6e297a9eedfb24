"""`kiosk selftest`: the technician's checklist, read on the spot, on an installed kiosk as it runs.

Each check exercises the real part the way the service uses it and answers ✓ or ✗ with one
line of detail and, on failure, a hint saying what to do; each is printed as it runs, and a check
a technician must watch or listen to says so *before* it acts ("listen for the click"). The exit
code is 0 only if every check passed.

While the kiosk service runs it holds the GPIO lines and the serial port exclusively, so the
device checks (GPIO, relay, lights, voice, thermometer, camera) run inside it, through its
control socket (kiosk/service/control.py); with the service stopped they run here, directly.

Run as root (``sudo kiosk selftest``, as the README says), it reads the sync secret where the
installer put it (``/etc/kiosk/credentials/kiosk.secret``, readable by root only: systemd hands it
to the sync unit alone) and then drops to the owner of ``[kiosk] state_dir`` (the kiosk user),
groups included, before checking anything: nothing it touches can end up owned by root. It
writes no file of its own; the pass log is only read.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk import config as config_mod
from kiosk import i18n
from kiosk.clock import Clock, SystemClock
from kiosk.config import Config
from kiosk.devices import gpio as gpio_devices
from kiosk.devices.gpio import Devices
from kiosk.errors import KioskError
from kiosk.i18n import N_, _
from kiosk.service.housekeeping import free_mb
from kiosk.statefiles import control_path, read_status

if TYPE_CHECKING:
    from sync.signing import KioskCredential

RELAY_TEST_S = 0.5
LED_STEP_S = 0.4
REQUIRED = ("kiosk.id", "kiosk.compound", "sync.server_url")


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    hint: str = ""


Check = Callable[["Context"], Result]
OnStart = Callable[[str, str], None]


@dataclass
class Context:
    cfg: Config
    clock: Clock
    devices: Devices | None = None
    thermometer_s: float = 3.0
    secret: KioskCredential | bytes | None = None   # read as root before dropping to the kiosk user
    service: Path | None = None           # the running kiosk's control socket


# --------------------------------------------------------------------------- checks

def check_configured(ctx: Context) -> Result:
    cfg = ctx.cfg
    missing = [k for k in REQUIRED if k not in cfg.given] if cfg.source is not None else []
    if missing:
        return Result("configuration", False, _("{file} does not set {keys}").format(
            file=cfg.source, keys=", ".join(missing)),
            _("sudoedit {file}: set them for this kiosk, then sudo systemctl restart kiosk").format(file=cfg.source))
    return Result("configuration", True, _(
        "kiosk {kiosk}, compound {compound}, gate {gate}, street server {url}").format(
        kiosk=cfg.kiosk.id, compound=cfg.kiosk.compound, gate=cfg.kiosk.gate, url=cfg.sync.server_url))


def check_service(ctx: Context) -> Result:
    try:
        status = read_status(ctx.cfg.status_path)
    except KioskError:
        status = None
    if status is not None and status["running"]:
        ctx.service = control_path(ctx.cfg.kiosk.runtime_dir)
        return Result("kiosk service", True, _("running (pid {pid}): its devices are tested through it").format(
            pid=status["pid"]))
    return Result("kiosk service", True, _("not running: the devices are tested directly "
                                           "(start the kiosk again afterwards: sudo systemctl start kiosk)"))


def check_gpio(ctx: Context) -> Result:
    gpio = ctx.cfg.gpio
    try:
        ctx.devices = gpio_devices.start(ctx.cfg, gpio_devices.NoButtons())
    except (OSError, ValueError) as exc:
        return Result("GPIO", False, str(exc),
                      _("check [gpio] pin_factory (= {factory!r}; Pi 5 needs 'lgpio') and that "
                        "the kiosk user is in group gpio").format(factory=gpio.pin_factory))
    return Result("GPIO", True, _("pin factory {factory}: relay, LEDs, buzzer, amplifier and buttons claimed").format(
        factory=gpio.pin_factory))


def check_relay(ctx: Context) -> Result:
    if ctx.devices is None:
        return Result("gate relay", False, _("GPIO not available"), _("fix the GPIO check first"))
    gpio = ctx.cfg.gpio
    relay = ctx.devices.relay
    feedback = None
    if gpio.gate_feedback_pin is not None:
        from gpiozero import DigitalInputDevice
        feedback = DigitalInputDevice(gpio.gate_feedback_pin, pull_up=True, pin_factory=ctx.devices.factory)
    try:
        relay.hold()
        deadline = time.monotonic() + RELAY_TEST_S
        opened = False
        while time.monotonic() < deadline:
            opened = opened or (feedback is not None and feedback.is_active)
            time.sleep(0.02)
        relay.release()
    finally:
        if feedback is not None:
            feedback.close()
    active = _("active high") if gpio.relay_active_high else _("active low")
    where = f"GPIO{gpio.relay_pin} ({active})"
    if feedback is None:
        return Result("gate relay", True, _("energised {where} for {seconds:g} s; no gate feedback wired "
                                            "([gpio] gate_feedback_pin): listen for the click").format(
            where=where, seconds=RELAY_TEST_S))
    if opened:
        return Result("gate relay", True, _("energised {where}; the gate reported open on GPIO{pin}").format(
            where=where, pin=gpio.gate_feedback_pin))
    return Result("gate relay", False, _("energised {where} but the gate never reported open on GPIO{pin}").format(
        where=where, pin=gpio.gate_feedback_pin),
                  _("check the relay wiring and [gpio] relay_active_high, the gate controller's power and "
                    "the feedback contact"))


def check_lights(ctx: Context) -> Result:
    if ctx.devices is None:
        return Result("LEDs and buzzer", False, _("GPIO not available"), _("fix the GPIO check first"))
    ind = ctx.devices.indicators
    for state in ("pass", "deny", "measuring"):
        ind.show(state)
        time.sleep(LED_STEP_S)
    ind.show("idle")
    ind.beep(1)
    return Result("LEDs and buzzer", True, _("green, red and yellow lit in turn and the buzzer beeped once: "
                                             "check by eye and ear"))


class _Faults:
    """Collects a device's fault messages during a check."""

    def __init__(self, into: list[str]) -> None:
        self.into = into

    def device_fault(self, device: str, message: str) -> None:
        self.into.append(message)

    def device_recovered(self, device: str) -> None:
        pass


def check_voice(ctx: Context) -> Result:
    from kiosk.devices import voice
    v = ctx.cfg.voice
    if v.backend == "none" or v.mute:
        return Result("voice", True, _("voice is off ([voice] backend = {backend!r}, mute = {mute})").format(
            backend=v.backend, mute=v.mute))
    faults: list[str] = []
    amp = ctx.devices.amp if ctx.devices else None
    factory = ctx.devices.factory if ctx.devices else None
    try:
        announcer = voice.start(ctx.cfg, _Faults(faults), amp=amp, pin_factory=factory)
    except (OSError, ValueError) as exc:
        return Result("voice", False, str(exc), _("check the [voice] section"))
    try:
        missing = announcer.missing_clips() if hasattr(announcer, "missing_clips") else []
        announcer.announce("please_scan")
        waiter = getattr(announcer, "wait_idle", None)
        if waiter is not None:
            waiter(15.0)
    finally:
        announcer.close()
    if faults:
        return Result("voice", False, _("playing a clip failed: {fault}").format(fault=faults[0]),
                      _("check the speaker and [voice] device (= {device!r}; `aplay -l` lists cards)").format(
                          device=v.device))
    note = _("; {n} clips missing, espeak-ng speaks them (run `kiosk voice build`)").format(
        n=len(missing)) if missing else ""
    return Result("voice", True, _("'please_scan' played with backend {backend} on {device!r}").format(
        backend=v.backend, device=v.device) + note)


def check_thermometer(ctx: Context) -> Result:
    from kiosk.devices.thermometer import self_check
    ok, detail = self_check(ctx.cfg, seconds=ctx.thermometer_s)
    if ok:
        return Result("thermometer", True, detail)
    return Result("thermometer", False, detail,
                  _("check [thermometer] port (= {port!r}) and protocol, the cable and the "
                    "module's power; the kiosk user must be in group dialout").format(port=ctx.cfg.thermometer.port))


def check_camera(ctx: Context) -> Result:
    from kiosk.devices.camera import self_check
    ok, detail = self_check(ctx.cfg.camera)
    if ok:
        return Result("camera", True, detail)
    return Result("camera", False, detail,
                  _("check [camera] source (= {source!r}), the USB cable or CSI ribbon, and that the kiosk "
                    "user is in group video (`v4l2-ctl --list-devices` lists cameras)").format(
                      source=ctx.cfg.camera.source))


def check_disk(ctx: Context) -> Result:
    cfg = ctx.cfg
    free = free_mb(cfg.db_path.parent)
    if free >= cfg.store.min_free_mb:
        return Result("disk space", True, _("{free:.0f} MiB free for {dir}").format(free=free, dir=cfg.db_path.parent))
    return Result("disk space", False, _("only {free:.0f} MiB free for {dir} (alarm below {min} MiB)").format(
        free=free, dir=cfg.db_path.parent, min=cfg.store.min_free_mb),
                  _("free space (old logs, apt clean) or use a larger card; the kiosk keeps deciding but alarms"))


def check_pass_log(ctx: Context) -> Result:
    """Read-only: the self-test never creates, writes or checkpoints the log (only the kiosk does)."""
    from kiosk.passlog.reader import connect_readonly
    db = ctx.cfg.db_path
    if not db.exists():
        where = next((p for p in (db.parent, *db.parents) if p.exists()), db.parent)
        if os.access(where, os.W_OK | os.X_OK):
            return Result("pass log", True, _("none yet at {db}: the kiosk creates it at its first start "
                                              "({dir} is writable for it)").format(db=db, dir=where))
        return Result("pass log", False, _("no pass log at {db}, and {dir} is not writable for this user").format(
            db=db, dir=where),
                      _("the state directory must belong to the kiosk user (the installer's tmpfiles.d does this)"))
    try:
        conn = connect_readonly(db)
        try:
            integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
        finally:
            conn.close()
    except (KioskError, OSError) as exc:
        return Result("pass log", False, str(exc), _("a damaged log is quarantined by the kiosk at its next start; "
                                                     "`journalctl -u kiosk` says why it cannot be read"))
    except Exception as exc:  # noqa: BLE001 - sqlite3 errors from a damaged file: a failed check
        return Result("pass log", False, f"{db}: {exc}", _("the kiosk quarantines a damaged log at its next start"))
    if integrity != "ok":
        return Result("pass log", False, _("{db} failed its integrity check: {problem}").format(
            db=db, problem=integrity),
                      _("the kiosk quarantines it at its next start: sudo systemctl restart kiosk"))
    if meta.get("kiosk_id") != ctx.cfg.kiosk.id:
        return Result("pass log", False, _("{db} belongs to kiosk {other!r}, not {kiosk!r}").format(
            db=db, other=meta.get("kiosk_id"), kiosk=ctx.cfg.kiosk.id),
                      _("a deliberate id change: stop the kiosk and run `kiosk retire-log`; else fix kiosk.id"))
    return Result("pass log", True, _("{db}: integrity ok, epoch {epoch}, last seq {seq}").format(
        db=db, epoch=str(meta.get("db_epoch"))[:8], seq=last))


def check_clock(ctx: Context) -> Result:
    if ctx.clock.synced():
        return Result("clock synced", True, _("NTP-synchronised, {now}").format(
            now=time.strftime("%Y-%m-%d %H:%M:%S %Z")))
    return Result("clock synced", False, _("the wall clock is not NTP-synchronised"),
                  _("check the network and `timedatectl timesync-status`; until then records are flagged, "
                    "doubtful codes go to the volunteer and retention purge waits"))


def check_bundle(ctx: Context) -> Result:
    cfg = ctx.cfg
    if cfg.codes.root_key is None:
        return Result("trust bundle", False, _("[codes] root_key is not set: no health code can be verified"),
                      _("install the street's root.pub in /etc/kiosk and set [codes] root_key"))
    from kiosk.codes.trust import TrustStore, load_root_key
    try:
        root = load_root_key(cfg.codes.root_key)
    except KioskError as exc:
        return Result("trust bundle", False, str(exc), _("replace /etc/kiosk/root.pub with the street's root key"))
    trust = TrustStore(root, cfg.bundle_path, cfg.last_good_bundle_path,
                       write_last_good=False)
    bundle = trust.bundle
    if bundle is None:
        return Result("trust bundle", False, trust.message,
                      _("run `kiosk sync --once` (needs the server) to fetch the street's bundle"))
    age = ctx.clock.wall() - bundle.iat
    if bundle.stale(ctx.clock.wall()):
        return Result("trust bundle", False, _(
            "seq {seq} is {age:.1f} h old, older than {max:.0f} h: stale ({action})").format(
            seq=bundle.seq, age=age / 3600, max=bundle.policy.max_age_s / 3600, action=bundle.policy.stale_action),
                      _("sync with the street server (`kiosk sync --once`); check the network"))
    return Result("trust bundle", True, _(
        "seq {seq} from street {street}, {age:.1f} h old (stale after {max:.0f} h)").format(
        seq=bundle.seq, street=bundle.street, age=age / 3600, max=bundle.policy.max_age_s / 3600))


def check_server(ctx: Context) -> Result:
    from sync.client import CycleReport, SyncClient
    from sync.errors import SyncError
    url = ctx.cfg.sync.server_url
    try:
        with SyncClient(ctx.cfg, ctx.clock, secret=ctx.secret) as client:
            client.send_heartbeat(None, CycleReport())
            offset = client.state.clock.get("offset_s")
    except (SyncError, OSError, ValueError) as exc:
        text = str(exc)
        if "no sync secret" in text or "Permission denied" in text:
            hint = _("run the self-test as root (sudo): it reads /etc/kiosk/credentials/kiosk.secret, which only "
                     "the sync unit is given, then works as the kiosk user")
        elif "401" in text or "403" in text or "secret" in text.lower() or "credential" in text.lower():
            hint = _("check /etc/kiosk/credentials/kiosk.secret against `street-server kiosk add {kiosk}` "
                     "(revoked kiosks are refused)").format(kiosk=ctx.cfg.kiosk.id)
        else:
            hint = _("check [sync] server_url (= {url!r}), the network and that the street server runs").format(url=url)
        return Result("street server", False, text, hint)
    extra = _(", clock offset {offset:+.1f} s").format(offset=offset) if isinstance(offset, (int, float)) else ""
    return Result("street server", True, _("{url} reachable, credentials of {kiosk} accepted").format(
        url=url, kiosk=ctx.cfg.kiosk.id) + extra)


DEVICE_CHECKS: tuple[Check, ...] = (check_gpio, check_relay, check_lights, check_voice, check_thermometer,
                                    check_camera)
CHECKS: tuple[Check, ...] = (check_configured, check_service, *DEVICE_CHECKS, check_disk, check_pass_log,
                             check_clock, check_bundle, check_server)
# what a technician is told before a check acts (the click comes after "listen for the click")
NOTES: dict[Check, str] = {
    check_relay: N_("clicking the gate relay for {seconds:g} s now: listen for the click"),
    check_lights: N_("green, red and yellow light in turn, then one beep: watch and listen"),
    check_voice: N_("saying 'please show your health code': listen"),
    check_camera: N_("watching the camera for {seconds:g} s"),
}
NOTE_SECONDS: dict[Check, float] = {check_relay: RELAY_TEST_S, check_camera: 2.0}
# a result's name (stable: --json carries it as it is) → what a person reads
NAMES: dict[str, str] = {
    "configuration": N_("configuration"), "kiosk service": N_("kiosk service"), "GPIO": N_("GPIO"),
    "gate relay": N_("gate relay"), "LEDs and buzzer": N_("LEDs and buzzer"), "voice": N_("voice"),
    "thermometer": N_("thermometer"), "camera": N_("camera"), "disk space": N_("disk space"),
    "pass log": N_("pass log"), "clock synced": N_("clock synced"), "trust bundle": N_("trust bundle"),
    "street server": N_("street server"),
}


def _name(check: Check) -> str:
    """The name a check's result carries (for its announcement, and a check that crashed)."""
    names: dict[Check, str] = {
        check_gpio: "GPIO", check_relay: "gate relay", check_lights: "LEDs and buzzer", check_disk: "disk space",
        check_clock: "clock synced", check_bundle: "trust bundle", check_server: "street server",
        check_service: "kiosk service"}
    return names.get(check, check.__name__.removeprefix("check_"))


def run_checks(cfg: Config, clock: Clock, checks: tuple[Check, ...] = CHECKS, thermometer_s: float = 3.0,
               on_start: OnStart | None = None, on_result: Callable[[Result], None] | None = None,
               secret: KioskCredential | bytes | None = None) -> list[Result]:
    """Run ``checks`` in order; with the kiosk running, its device checks come from the kiosk itself.
    ``on_start(name, note)`` and ``on_result(result)`` report each as it happens."""
    ctx = Context(cfg, clock, thermometer_s=thermometer_s, secret=secret)
    results: list[Result] = []

    def done(result: Result) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    def start(name: str, note: str) -> None:
        if on_start is not None:
            on_start(name, note)

    try:
        for check in checks:
            if check in DEVICE_CHECKS and ctx.service is not None:
                continue               # the running kiosk tested its own devices
            if check is check_thermometer:
                start("thermometer", _("reading the thermometer for {seconds:g} s").format(seconds=thermometer_s))
            else:
                note = NOTES.get(check, "")
                start(_name(check), _(note).format(seconds=NOTE_SECONDS.get(check, 0.0)) if note else "")
            try:
                result = check(ctx)
            except Exception as exc:  # noqa: BLE001 - a broken part is a failed check, not a crash
                result = Result(_name(check), False, f"{type(exc).__name__}: {exc}",
                                _("see `journalctl -u kiosk` and the README"))
            if check is check_service and ctx.service is not None:
                _through_service(ctx, result, start, done)
            else:
                done(result)
    finally:
        if ctx.devices is not None:
            ctx.devices.close()
    return results


def _through_service(ctx: Context, running: Result, start: OnStart, done: Callable[[Result], None]) -> None:
    """The device checks, run by the kiosk on the devices it holds."""
    from kiosk.service import control
    assert ctx.service is not None
    try:
        answers = control.request(ctx.service, {"do": "selftest", "lang": i18n.current()})
    except OSError as exc:
        done(Result("kiosk service", False, _(
            "{running}, but its control socket {socket} does not answer ({error})").format(
            running=running.detail.split(":")[0].split("：")[0], socket=ctx.service, error=exc.strerror or exc),
                    _("restart it (sudo systemctl restart kiosk), or stop it to test the devices directly")))
        return
    done(running)
    try:
        for answer in answers:
            if "start" in answer:
                start(str(answer["start"]), str(answer.get("note", "")))
            elif "result" in answer:
                done(Result(**{k: answer["result"][k] for k in ("name", "ok", "detail", "hint")}))
            elif "error" in answer:
                done(Result("kiosk service", False, str(answer["error"]), _("see `journalctl -u kiosk`")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        done(Result("kiosk service", False, _("the kiosk stopped answering the self-test: {error}").format(error=exc),
                    _("see `journalctl -u kiosk`")))


# --------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--json", action="store_true", help="one JSON object per check")


def header(cfg: Config) -> str:
    return _("kiosk selftest — {kiosk} (gate {gate}), config {file}").format(
        kiosk=cfg.kiosk.id, gate=cfg.kiosk.gate, file=cfg.source)


def label(name: str) -> str:
    """A check's name as a person reads it (a name the catalogue does not know: as it came)."""
    return _(NAMES[name]) if name in NAMES else name


def line(r: Result) -> str:
    text = f" {'✓' if r.ok else '✗'} {i18n.ljust(label(r.name), 16)} {r.detail}"
    if not r.ok and r.hint:
        text += f"\n   {'':<16} " + _("hint: {hint}").format(hint=r.hint)
    return text


def footer(results: list[Result]) -> str:
    passed = sum(r.ok for r in results)
    text = _("{passed} of {total} checks passed").format(passed=passed, total=len(results))
    return text + ("" if passed == len(results) else _(" — NOT READY"))


def render(cfg: Config, results: list[Result]) -> str:
    return "\n".join([header(cfg), *(line(r) for r in results), footer(results)])


def secret_then_kiosk_user(cfg: Config) -> tuple[KioskCredential | None, str | None]:
    """As root: read the sync secret now, then become the owner of the state dir (the kiosk user,
    with its groups), so nothing the self-test touches can become root's. Returns the secret (if
    one could be read) and the user now run as (None when nothing changed)."""
    if os.geteuid() != 0:
        return None, None
    from sync.errors import SecretError
    from sync.secret import load_secret
    try:
        secret: KioskCredential | None = load_secret(cfg)
    except SecretError:
        secret = None                # the server check says so, with its hint
    try:
        st = cfg.kiosk.state_dir.stat()
    except OSError:
        return secret, None
    if st.st_uid == 0:
        return secret, None
    _preload(cfg)
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
        os.initgroups(user, st.st_gid)
    except KeyError:
        user = str(st.st_uid)
        os.setgroups([st.st_gid])
    os.setgid(st.st_gid)
    os.setuid(st.st_uid)
    return secret, user


def _preload(cfg: Config) -> None:
    """Import what the checks use while still root, as daemons load before dropping privileges: the
    interpreter may live where only root can read (a pyenv under /root), and a check must fail on
    its device, never on an import."""
    import ctypes  # noqa: F401 - kiosk.clock imports it on first use (the kernel's NTP state), not at import

    import kiosk.codes.trust
    import kiosk.devices.thermometer
    import kiosk.devices.voice
    import kiosk.passlog.reader
    import kiosk.service.control
    import sync.client  # noqa: F401 - imported for the side effect of loading
    if cfg.camera.enabled:
        import kiosk.devices.camera  # noqa: F401
    "127.0.0.1".encode("idna")      # the codec requests uses for host names, also loaded on first use


def run(args: argparse.Namespace) -> int:
    if args.json:
        i18n.use("en")     # a program reads it: details and hints as written, whatever --lang says (docs/i18n.md)
    cfg = config_mod.load(args.config)
    secret, user = secret_then_kiosk_user(cfg)
    results: list[Result] = []

    def on_start(name: str, note: str) -> None:
        if note and not args.json:
            print(f"   … {label(name)}: {note}", flush=True)

    def on_result(r: Result) -> None:
        print(json.dumps(asdict(r), ensure_ascii=False) if args.json else line(r), flush=True)

    if not args.json:
        print(header(cfg) + (_(" (as {user})").format(user=user) if user else ""), flush=True)
    results = run_checks(cfg, SystemClock(), on_start=on_start, on_result=on_result, secret=secret)
    if not args.json:
        print(footer(results), flush=True)
    return 0 if results and all(r.ok for r in results) else 1
