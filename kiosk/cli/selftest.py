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
from kiosk.clock import Clock, SystemClock
from kiosk.config import Config
from kiosk.devices import gpio as gpio_devices
from kiosk.devices.gpio import Devices
from kiosk.errors import KioskError
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
        return Result("configuration", False, f"{cfg.source} does not set {', '.join(missing)}",
                      f"sudoedit {cfg.source}: set them for this kiosk, then sudo systemctl restart kiosk")
    return Result("configuration", True, f"kiosk {cfg.kiosk.id}, compound {cfg.kiosk.compound}, gate "
                  f"{cfg.kiosk.gate}, street server {cfg.sync.server_url}")


def check_service(ctx: Context) -> Result:
    try:
        status = read_status(ctx.cfg.status_path)
    except KioskError:
        status = None
    if status is not None and status["running"]:
        ctx.service = control_path(ctx.cfg.kiosk.runtime_dir)
        return Result("kiosk service", True, f"running (pid {status['pid']}): its devices are tested through it")
    return Result("kiosk service", True, "not running: the devices are tested directly "
                  "(start the kiosk again afterwards: sudo systemctl start kiosk)")


def check_gpio(ctx: Context) -> Result:
    gpio = ctx.cfg.gpio
    try:
        ctx.devices = gpio_devices.start(ctx.cfg, gpio_devices.NoButtons())
    except (OSError, ValueError) as exc:
        return Result("GPIO", False, str(exc),
                      f"check [gpio] pin_factory (= {gpio.pin_factory!r}; Pi 5 needs 'lgpio') and that "
                      "the kiosk user is in group gpio")
    return Result("GPIO", True, f"pin factory {gpio.pin_factory}: relay, LEDs, buzzer, amplifier and buttons claimed")


def check_relay(ctx: Context) -> Result:
    if ctx.devices is None:
        return Result("gate relay", False, "GPIO not available", "fix the GPIO check first")
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
    where = f"GPIO{gpio.relay_pin} ({'active high' if gpio.relay_active_high else 'active low'})"
    if feedback is None:
        return Result("gate relay", True, f"energised {where} for {RELAY_TEST_S:g} s; no gate feedback wired "
                      "([gpio] gate_feedback_pin): listen for the click")
    if opened:
        return Result("gate relay", True, f"energised {where}; the gate reported open on GPIO{gpio.gate_feedback_pin}")
    return Result("gate relay", False, f"energised {where} but the gate never reported open on "
                  f"GPIO{gpio.gate_feedback_pin}",
                  "check the relay wiring and [gpio] relay_active_high, the gate controller's power and "
                  "the feedback contact")


def check_lights(ctx: Context) -> Result:
    if ctx.devices is None:
        return Result("LEDs and buzzer", False, "GPIO not available", "fix the GPIO check first")
    ind = ctx.devices.indicators
    for state in ("pass", "deny", "measuring"):
        ind.show(state)
        time.sleep(LED_STEP_S)
    ind.show("idle")
    ind.beep(1)
    return Result("LEDs and buzzer", True, "green, red and yellow lit in turn and the buzzer beeped once: "
                  "check by eye and ear")


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
        return Result("voice", True, f"voice is off ([voice] backend = {v.backend!r}, mute = {v.mute})")
    faults: list[str] = []
    amp = ctx.devices.amp if ctx.devices else None
    factory = ctx.devices.factory if ctx.devices else None
    try:
        announcer = voice.start(ctx.cfg, _Faults(faults), amp=amp, pin_factory=factory)
    except (OSError, ValueError) as exc:
        return Result("voice", False, str(exc), "check the [voice] section")
    try:
        missing = announcer.missing_clips() if hasattr(announcer, "missing_clips") else []
        announcer.announce("please_scan")
        waiter = getattr(announcer, "wait_idle", None)
        if waiter is not None:
            waiter(15.0)
    finally:
        announcer.close()
    if faults:
        return Result("voice", False, f"playing a clip failed: {faults[0]}",
                      f"check the speaker and [voice] device (= {v.device!r}; `aplay -l` lists cards)")
    note = f"; {len(missing)} clips missing, espeak-ng speaks them (run `kiosk voice build`)" if missing else ""
    return Result("voice", True, f"'please_scan' played with backend {v.backend} on {v.device!r}{note}")


def check_thermometer(ctx: Context) -> Result:
    from kiosk.devices.thermometer import self_check
    ok, detail = self_check(ctx.cfg, seconds=ctx.thermometer_s)
    if ok:
        return Result("thermometer", True, detail)
    return Result("thermometer", False, detail,
                  f"check [thermometer] port (= {ctx.cfg.thermometer.port!r}) and protocol, the cable and the "
                  "module's power; the kiosk user must be in group dialout")


def check_camera(ctx: Context) -> Result:
    from kiosk.devices.camera import self_check
    ok, detail = self_check(ctx.cfg.camera)
    if ok:
        return Result("camera", True, detail)
    return Result("camera", False, detail,
                  f"check [camera] source (= {ctx.cfg.camera.source!r}), the USB cable or CSI ribbon, "
                  "and that the kiosk user is in group video (`v4l2-ctl --list-devices` lists cameras)")


def check_disk(ctx: Context) -> Result:
    cfg = ctx.cfg
    free = free_mb(cfg.db_path.parent)
    if free >= cfg.store.min_free_mb:
        return Result("disk space", True, f"{free:.0f} MiB free for {cfg.db_path.parent}")
    return Result("disk space", False, f"only {free:.0f} MiB free for {cfg.db_path.parent} "
                  f"(alarm below {cfg.store.min_free_mb} MiB)",
                  "free space (old logs, apt clean) or use a larger card; the kiosk keeps deciding but alarms")


def check_pass_log(ctx: Context) -> Result:
    """Read-only: the self-test never creates, writes or checkpoints the log (only the kiosk does)."""
    from kiosk.passlog.reader import connect_readonly
    db = ctx.cfg.db_path
    if not db.exists():
        where = next((p for p in (db.parent, *db.parents) if p.exists()), db.parent)
        if os.access(where, os.W_OK | os.X_OK):
            return Result("pass log", True, f"none yet at {db}: the kiosk creates it at its first start "
                          f"({where} is writable for it)")
        return Result("pass log", False, f"no pass log at {db}, and {where} is not writable for this user",
                      "the state directory must belong to the kiosk user (the installer's tmpfiles.d does this)")
    try:
        conn = connect_readonly(db)
        try:
            integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0]
        finally:
            conn.close()
    except (KioskError, OSError) as exc:
        return Result("pass log", False, str(exc), "a damaged log is quarantined by the kiosk at its next start; "
                      "`journalctl -u kiosk` says why it cannot be read")
    except Exception as exc:  # noqa: BLE001 - sqlite3 errors from a damaged file: a failed check
        return Result("pass log", False, f"{db}: {exc}", "the kiosk quarantines a damaged log at its next start")
    if integrity != "ok":
        return Result("pass log", False, f"{db} failed its integrity check: {integrity}",
                      "the kiosk quarantines it at its next start: sudo systemctl restart kiosk")
    if meta.get("kiosk_id") != ctx.cfg.kiosk.id:
        return Result("pass log", False, f"{db} belongs to kiosk {meta.get('kiosk_id')!r}, not {ctx.cfg.kiosk.id!r}",
                      "a deliberate id change: stop the kiosk and run `kiosk retire-log`; else fix kiosk.id")
    return Result("pass log", True, f"{db}: integrity ok, epoch {str(meta.get('db_epoch'))[:8]}, last seq {last}")


def check_clock(ctx: Context) -> Result:
    if ctx.clock.synced():
        return Result("clock synced", True, f"NTP-synchronised, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    return Result("clock synced", False, "the wall clock is not NTP-synchronised",
                  "check the network and `timedatectl timesync-status`; until then records are flagged, "
                  "doubtful codes go to the volunteer and retention purge waits")


def check_bundle(ctx: Context) -> Result:
    cfg = ctx.cfg
    if cfg.codes.root_key is None:
        return Result("trust bundle", False, "[codes] root_key is not set: no health code can be verified",
                      "install the street's root.pub in /etc/kiosk and set [codes] root_key")
    from kiosk.codes.trust import TrustStore, load_root_key
    try:
        root = load_root_key(cfg.codes.root_key)
    except KioskError as exc:
        return Result("trust bundle", False, str(exc), "replace /etc/kiosk/root.pub with the street's root key")
    trust = TrustStore(root, cfg.bundle_path, cfg.last_good_bundle_path,
                       write_last_good=False)
    bundle = trust.bundle
    if bundle is None:
        return Result("trust bundle", False, trust.message,
                      "run `kiosk sync --once` (needs the server) to fetch the street's bundle")
    age = ctx.clock.wall() - bundle.iat
    if bundle.stale(ctx.clock.wall()):
        return Result("trust bundle", False, f"seq {bundle.seq} is {age / 3600:.1f} h old, older than "
                      f"{bundle.policy.max_age_s / 3600:.0f} h: stale ({bundle.policy.stale_action})",
                      "sync with the street server (`kiosk sync --once`); check the network")
    return Result("trust bundle", True, f"seq {bundle.seq} from street {bundle.street}, {age / 3600:.1f} h old "
                  f"(stale after {bundle.policy.max_age_s / 3600:.0f} h)")


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
            hint = ("run the self-test as root (sudo): it reads /etc/kiosk/credentials/kiosk.secret, which only "
                    "the sync unit is given, then works as the kiosk user")
        elif "401" in text or "403" in text or "secret" in text.lower() or "credential" in text.lower():
            hint = ("check /etc/kiosk/credentials/kiosk.secret against `street-server kiosk add "
                    f"{ctx.cfg.kiosk.id}` (revoked kiosks are refused)")
        else:
            hint = f"check [sync] server_url (= {url!r}), the network and that the street server runs"
        return Result("street server", False, text, hint)
    extra = f", clock offset {offset:+.1f} s" if isinstance(offset, (int, float)) else ""
    return Result("street server", True, f"{url} reachable, credentials of {ctx.cfg.kiosk.id} accepted{extra}")


DEVICE_CHECKS: tuple[Check, ...] = (check_gpio, check_relay, check_lights, check_voice, check_thermometer,
                                    check_camera)
CHECKS: tuple[Check, ...] = (check_configured, check_service, *DEVICE_CHECKS, check_disk, check_pass_log,
                             check_clock, check_bundle, check_server)
# what a technician is told before a check acts (the click comes after "listen for the click")
NOTES: dict[Check, str] = {
    check_relay: f"clicking the gate relay for {RELAY_TEST_S:g} s now: listen for the click",
    check_lights: "green, red and yellow light in turn, then one beep: watch and listen",
    check_voice: "saying 'please show your health code': listen",
    check_camera: "watching the camera for 2 s",
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
                start("thermometer", f"reading the thermometer for {thermometer_s:g} s")
            else:
                start(_name(check), NOTES.get(check, ""))
            try:
                result = check(ctx)
            except Exception as exc:  # noqa: BLE001 - a broken part is a failed check, not a crash
                result = Result(_name(check), False, f"{type(exc).__name__}: {exc}",
                                "see `journalctl -u kiosk` and the README")
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
        answers = control.request(ctx.service, {"do": "selftest"})
    except OSError as exc:
        done(Result("kiosk service", False, f"{running.detail.split(':')[0]}, but its control socket "
                    f"{ctx.service} does not answer ({exc.strerror or exc})",
                    "restart it (sudo systemctl restart kiosk), or stop it to test the devices directly"))
        return
    done(running)
    try:
        for answer in answers:
            if "start" in answer:
                start(str(answer["start"]), str(answer.get("note", "")))
            elif "result" in answer:
                done(Result(**{k: answer["result"][k] for k in ("name", "ok", "detail", "hint")}))
            elif "error" in answer:
                done(Result("kiosk service", False, str(answer["error"]), "see `journalctl -u kiosk`"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        done(Result("kiosk service", False, f"the kiosk stopped answering the self-test: {exc}",
                    "see `journalctl -u kiosk`"))


# --------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--json", action="store_true", help="one JSON object per check")


def header(cfg: Config) -> str:
    return f"kiosk selftest — {cfg.kiosk.id} (gate {cfg.kiosk.gate}), config {cfg.source}"


def line(r: Result) -> str:
    text = f" {'✓' if r.ok else '✗'} {r.name:<16} {r.detail}"
    if not r.ok and r.hint:
        text += f"\n   {'':<16} hint: {r.hint}"
    return text


def footer(results: list[Result]) -> str:
    passed = sum(r.ok for r in results)
    return f"{passed} of {len(results)} checks passed" + ("" if passed == len(results) else " — NOT READY")


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
    cfg = config_mod.load(args.config)
    secret, user = secret_then_kiosk_user(cfg)
    results: list[Result] = []

    def on_start(name: str, note: str) -> None:
        if note and not args.json:
            print(f"   … {name}: {note}", flush=True)

    def on_result(r: Result) -> None:
        print(json.dumps(asdict(r), ensure_ascii=False) if args.json else line(r), flush=True)

    if not args.json:
        print(header(cfg) + (f" (as {user})" if user else ""), flush=True)
    results = run_checks(cfg, SystemClock(), on_start=on_start, on_result=on_result, secret=secret)
    if not args.json:
        print(footer(results), flush=True)
    return 0 if results and all(r.ok for r in results) else 1
