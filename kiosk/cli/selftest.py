"""`kiosk selftest`: the technician's checklist, read on the spot.

Each check exercises the real part the way the service uses it and answers ✓ or ✗ with one
line of detail and, on failure, a hint saying what to do. The exit code is 0 only if every
check passed. The service must be stopped first: it owns the GPIO lines and the serial port
exclusively (lgpio and pyserial's ``exclusive=True``), so a second opener would fail anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from kiosk import config as config_mod
from kiosk.clock import Clock, SystemClock
from kiosk.config import Config
from kiosk.devices import gpio as gpio_devices
from kiosk.devices.gpio import Devices
from kiosk.errors import KioskError
from kiosk.service.housekeeping import free_mb
from kiosk.statefiles import read_status

RELAY_TEST_S = 0.5
LED_STEP_S = 0.4


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    hint: str = ""


Check = Callable[["Context"], Result]


@dataclass
class Context:
    cfg: Config
    clock: Clock
    devices: Devices | None = None
    thermometer_s: float = 3.0


# --------------------------------------------------------------------------- checks

def check_not_running(ctx: Context) -> Result:
    try:
        status = read_status(ctx.cfg.status_path)
    except KioskError:
        return Result("kiosk stopped", True, "the kiosk service is not running; devices are free to test")
    if status["running"]:
        return Result("kiosk stopped", False, f"the kiosk is running (pid {status['pid']}) and owns the devices",
                      "stop it for the test: sudo systemctl stop kiosk (start it again afterwards)")
    return Result("kiosk stopped", True, "the kiosk service is not running; devices are free to test")


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
    from kiosk.service.assembly import open_store
    try:
        with open_store(ctx.cfg, ctx.clock) as store:
            return Result("pass log", True, f"{store.path}: integrity ok, epoch {store.db_epoch[:8]}, "
                          f"last seq {store.last_seq}")
    except KioskError as exc:
        return Result("pass log", False, str(exc),
                      "a damaged log is quarantined by the kiosk at start; a permissions problem needs "
                      "`chown -R kiosk:kiosk /var/lib/kiosk`")


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
        with SyncClient(ctx.cfg, ctx.clock) as client:
            client.send_heartbeat(None, CycleReport())
            offset = client.state.clock.get("offset_s")
    except (SyncError, OSError, ValueError) as exc:
        text = str(exc)
        if "401" in text or "403" in text or "secret" in text.lower() or "credential" in text.lower():
            hint = ("check /etc/kiosk/credentials/kiosk.secret against `street-server kiosk add "
                    f"{ctx.cfg.kiosk.id}` (revoked kiosks are refused)")
        else:
            hint = f"check [sync] server_url (= {url!r}), the network and that the street server runs"
        return Result("street server", False, text, hint)
    extra = f", clock offset {offset:+.1f} s" if isinstance(offset, (int, float)) else ""
    return Result("street server", True, f"{url} reachable, credentials of {ctx.cfg.kiosk.id} accepted{extra}")


CHECKS: tuple[Check, ...] = (check_not_running, check_gpio, check_relay, check_lights, check_voice,
                             check_thermometer, check_camera, check_disk, check_pass_log, check_clock, check_bundle,
                             check_server)


def run_checks(cfg: Config, clock: Clock, checks: tuple[Check, ...] = CHECKS,
               thermometer_s: float = 3.0) -> list[Result]:
    ctx = Context(cfg, clock, thermometer_s=thermometer_s)
    results: list[Result] = []
    try:
        for check in checks:
            if results and results[0].name == "kiosk stopped" and not results[0].ok:
                break          # never fight the running service for its devices
            try:
                results.append(check(ctx))
            except Exception as exc:  # noqa: BLE001 - a broken part is a failed check, not a crash
                results.append(Result(check.__name__.removeprefix("check_").replace("_", " "), False,
                                      f"{type(exc).__name__}: {exc}", "see `journalctl -u kiosk` and the README"))
    finally:
        if ctx.devices is not None:
            ctx.devices.close()
    return results


# --------------------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    p.add_argument("--json", action="store_true", help="one JSON object per check")


def render(cfg: Config, results: list[Result]) -> str:
    lines = [f"kiosk selftest — {cfg.kiosk.id} (gate {cfg.kiosk.gate}), config {cfg.source}"]
    for r in results:
        lines.append(f" {'✓' if r.ok else '✗'} {r.name:<16} {r.detail}")
        if not r.ok and r.hint:
            lines.append(f"   {'':<16} hint: {r.hint}")
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} of {len(results)} checks passed" + ("" if passed == len(results) else " — NOT READY"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    cfg = config_mod.load(args.config)
    results = run_checks(cfg, SystemClock())
    if args.json:
        for r in results:
            sys.stdout.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    else:
        print(render(cfg, results))
    return 0 if results and all(r.ok for r in results) else 1
