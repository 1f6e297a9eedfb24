"""Typed, frozen configuration read from ``/etc/kiosk/kiosk.toml`` (or ``--config``/``KIOSK_CONFIG``).

Modelled on Klipper's ``configfile``: every key is declared once, with its type, default,
bounds and a one-line doc; keys nobody declared are rejected as typos; every error names
``section.key`` and what is allowed, and is raised at start-up, never later. The same
declarations generate the commented example config and the README's configuration reference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from drivers.errors import DeviceConfigError
from drivers.thermometer.frames import codec, effective_mode
from kiosk import statefiles
from kiosk.errors import ConfigError, NotConfigured
from kiosk.i18n import N_, _
from kiosk.schema import HOUSEHOLD_RE

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ENV_VAR = "KIOSK_CONFIG"
# BCM numbers usable on the 40-pin header; GPIO 14/15 are the UART the thermometer uses
# and GPIO 2/3 the I2C bus, so a pin map that lands on them is almost always a mistake.
BCM_PINS = range(0, 28)
RESERVED_PINS = {14: N_("UART TXD (thermometer)"), 15: N_("UART RXD (thermometer)")}


def zone(name: str, where: str) -> dt.tzinfo:
    """The IANA time zone ``name``; ConfigError naming ``where`` if it does not exist."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(_("{key} = {zone!r} is not a known time zone (e.g. Asia/Shanghai)").format(
            key=where, zone=name)) from None


def key(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
        choices: tuple[str, ...] | None = None, pattern: str | None = None, required: bool = False) -> Any:
    """Declare one configuration key: default, bounds and the doc line shown to technicians.

    ``required``: every kiosk has its own value, so the shipped example leaves the key commented
    out and the commands that depend on it refuse a file that does not set it
    (:meth:`Config.require`); the default only serves tests and the demo."""
    meta = {"doc": doc, "min": min, "max": max, "choices": choices, "pattern": pattern, "required": required}
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------- sections

@dataclass(frozen=True)
class KioskSection:
    """Who this kiosk is and where it keeps its files."""

    id: str = key("kiosk-01", "Kiosk id registered with the street server (street-server kiosk add ID); "
                  "keys every record. Changing it on a used pass log: `kiosk retire-log`.",
                  pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", required=True)
    compound: str = key("demo-compound", "Compound id this kiosk guards; codes must be in scope for it.",
                        pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", required=True)
    gate: str = key("main", "Name of the gate this kiosk drives (shown to the street office).",
                    pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
    direction: str = key("in", "Which way residents pass this gate.", choices=("in", "out", "both"))
    language: str = key("zh", "Announcement language.", choices=("zh", "en"))
    timezone: str = key("Asia/Shanghai", "The kiosk's local time zone (IANA name): every 'today', date filter "
                        "(`kiosk export --since`) and printed time (badges, paper codes) is in it.",
                        pattern=r"[A-Za-z0-9_+./-]{1,64}")
    state_dir: Path = key(Path("/var/lib/kiosk"), "Directory for the pass log, trust bundle and caches.")
    runtime_dir: Path = key(Path("/run/kiosk"), "Directory for the status file (tmpfs).")

    def validate(self) -> None:
        self.tzinfo  # noqa: B018 - raises ConfigError for a zone that does not exist

    @property
    def tzinfo(self) -> dt.tzinfo:
        """``timezone`` as a tzinfo; ConfigError if the system's zone database does not have it."""
        return zone(self.timezone, "kiosk.timezone")


@dataclass(frozen=True)
class StoreSection:
    """The local pass log (SQLite, WAL, synchronous=FULL)."""

    path: Path | None = key(None, "Pass log file; defaults to <state_dir>/passes.db.")
    max_db_mb: int = key(512, "Size cap of the pass log in MiB (PRAGMA max_page_count).", min=1, max=65536)
    min_free_mb: int = key(200, "Raise a disk alarm when the filesystem has less free space than this.",
                           min=0, max=65536)
    retention_days: int = key(21, "Delete records older than this many days (acknowledged ones only).",
                              min=1, max=365)
    keep_acked_days: int = key(7, "Acknowledged records are purged once older than this many days.",
                               min=1, max=365)
    keep_free_pct: int = key(10, "The size cap is lowered so the log never fills the last this-many percent "
                             "of its filesystem (0: max_db_mb alone).", min=0, max=50)
    fail_policy: str = key("deny", "When the log cannot be written: 'deny' opens the gate only for the "
                           "emergency hold-open (decisions are recorded as denied), 'hold' keeps deciding and "
                           "opening, with the records held in memory until they can be written. Either way "
                           "held records are written, in order and gap-free, once space returns.",
                           choices=("deny", "hold"))
    hold_max_records: int = key(20000, "Records held in memory while the log cannot be written; beyond this "
                                "they are counted as lost and the gate opens for nobody but the emergency "
                                "hold-open.", min=100, max=1_000_000)


@dataclass(frozen=True)
class GpioSection:
    """Pin map (BCM numbers) and the pin factory that drives it."""

    pin_factory: str = key("lgpio", "gpiozero pin factory; 'mock' is the stand-in hardware (tests, demo).",
                           choices=("mock", "lgpio", "rpigpio", "pigpio", "native"))
    mock_journal: Path | None = key(None, "With pin_factory='mock': append every output pin change here as JSON lines.")
    relay_pin: int = key(17, "Gate relay (BCM).", min=0, max=27)
    relay_active_high: bool = key(True, "True if the relay board energises on a high pin.")
    gate_pulse_s: float = key(3.0, "How long one gate pulse keeps the relay energised.", min=0.2, max=30.0)
    gate_feedback_pin: int | None = key(None, "Optional input from the gate's own 'open' contact (BCM).",
                                        min=0, max=27)
    led_green_pin: int = key(22, "Green LED: pass (BCM).", min=0, max=27)
    led_red_pin: int = key(27, "Red LED: deny / fault (BCM).", min=0, max=27)
    led_yellow_pin: int = key(23, "Yellow LED: measuring / volunteer needed (BCM).", min=0, max=27)
    buzzer_pin: int = key(24, "Buzzer for volunteer alerts (BCM).", min=0, max=27)
    amp_enable_pin: int = key(25, "Amplifier enable: on only while a clip plays (BCM).", min=0, max=27)
    button_pass_pin: int = key(5, "Volunteer button 'manual pass' to ground (BCM, internal pull-up).", min=0, max=27)
    button_deny_pin: int = key(6, "Volunteer button 'manual deny' to ground (BCM).", min=0, max=27)
    button_remeasure_pin: int = key(13, "Volunteer button 're-measure' to ground (BCM).", min=0, max=27)
    button_emergency_pin: int = key(19, "Emergency button to ground: hold to toggle hold-open (BCM).", min=0, max=27)
    button_bounce_s: float = key(0.05, "Edges closer together than this are contact bounce.", min=0.0, max=1.0)
    emergency_hold_s: float = key(3.0, "Hold the emergency button this long to toggle hold-open.", min=3.0, max=10.0)
    hold_open_max_s: float = key(600.0, "Hold-open ends by itself after this long (and announces it).",
                                 min=10.0, max=86400.0)

    def pin_keys(self) -> dict[str, int]:
        """Every pin the map uses, by key name (for the twice-used check and the README map)."""
        pins = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name.endswith("_pin") and getattr(self, f.name) is not None}
        return pins

    def validate(self) -> None:
        seen: dict[int, str] = {}
        for name, pin in self.pin_keys().items():
            if pin in RESERVED_PINS:
                raise ConfigError(_("{key} = {pin}: GPIO{pin} is the {use}; pick another pin").format(
                    key=f"gpio.{name}", pin=pin, use=_(RESERVED_PINS[pin])))
            if pin in seen:
                raise ConfigError(_("{key} = {pin}: pin already used by {other}").format(
                    key=f"gpio.{name}", pin=pin, other=f"gpio.{seen[pin]}"))
            seen[pin] = name
        if self.mock_journal is not None and self.pin_factory != "mock":
            raise ConfigError(_("gpio.mock_journal is only allowed with gpio.pin_factory = 'mock'"))


@dataclass(frozen=True)
class FlowSection:
    """Timings of the pass flow."""

    temperature_timeout_s: float = key(10.0, "After a code is accepted, wait this long for a temperature reading.",
                                       min=2.0, max=120.0)
    result_hold_s: float = key(3.0, "Keep the result lights on this long (a volunteer may still override).",
                               min=0.5, max=60.0)
    volunteer_timeout_s: float = key(120.0, "A case waiting for a volunteer is recorded as denied after this long.",
                                     min=10.0, max=3600.0)
    rest_s: float = key(180.0, "After a high reading the resident rests this long before the re-measure counts.",
                        min=0.0, max=1800.0)
    retest_window_s: float = key(1800.0, "A re-measure within this long after a high reading is the decisive retest.",
                                 min=60.0, max=7200.0)
    max_low_retries: int = key(2, "Low (cold) readings are re-measured this many times before the volunteer decides.",
                               min=0, max=5)
    max_implausible_retries: int = key(2, "Implausible readings are re-measured this many times, then it is a "
                                       "device fault.",
                                       min=0, max=5)
    shift_min_s: float = key(120.0, "A volunteer's badge ends the shift only when shown again at least this long "
                             "after the shift started and after the badge was last read (a badge left in view "
                             "keeps being read and so never ends, or restarts, a shift).", min=10.0, max=3600.0)


@dataclass(frozen=True)
class TemperatureSection:
    """How samples become a reading, and the bands (docs/thermometer.md §2.5, §2.6)."""

    fever_c: float = key(37.3, "Body-equivalent temperature at or above which a reading is high.", min=34.0, max=39.0)
    low_c: float = key(35.0, "Below this a reading is low (cold forehead): re-measure, never 'normal'.",
                       min=30.0, max=36.5)
    no_target_c: float = key(32.0, "Below this there is no valid target in front of the sensor.", min=20.0, max=34.0)
    implausible_c: float = key(42.5, "Above this a reading is implausible (hot object or sensor fault).",
                               min=40.0, max=50.0)
    min_samples: int = key(5, "Valid samples needed for one reading (median).", min=3, max=50)
    window_s: float = key(1.0, "All samples of one reading lie within this window.", min=0.2, max=5.0)
    settle_s: float = key(0.2, "Discard samples this long after the target appears.", min=0.0, max=2.0)
    max_spread_c: float = key(0.3, "Max minus min of the samples; above it the resident is asked to hold still.",
                              min=0.05, max=2.0)
    skin_offset_c: float = key(0.5, "Added to raw forehead (object) temperature to estimate body temperature; "
                               "body-mode modules skip it.", min=-3.0, max=5.0)
    ambient_ref_c: float = key(25.0, "Ambient temperature at which skin_offset_c was calibrated.", min=0.0, max=40.0)
    ambient_coeff: float = key(0.0, "Extra offset per °C the ambient is below ambient_ref_c (cold skin reads low).",
                               min=0.0, max=0.2)
    cold_ambient_c: float = key(10.0, "Below this ambient, low readings get the cold-weather hint.",
                                min=-30.0, max=30.0)
    target_delta_c: float = key(3.0, "Raw-object modules: a target is present only when the object reads this much "
                                "above ambient (in hot weather an empty sensor reads the air, not a forehead); 0 turns "
                                "the check off.", min=0.0, max=10.0)


@dataclass(frozen=True)
class ThermometerSection:
    """The IR thermometer on a serial port (pyserial URL); protocols in docs/thermometer.md §1."""

    enabled: bool = key(True, "False: no thermometer is attached (every green code then waits for the volunteer).")
    port: str = key("/dev/serial0", "pyserial URL: /dev/ttyUSB0, /dev/serial0, socket://host:port, loop://; "
                    "a relative path is taken relative to the config file.")
    protocol: str = key("gy-mcu90614", "Module protocol.", choices=("gy-mcu90614", "aa-a5-body", "idc50-push"))
    baud: int = key(0, "Baud rate; 0 probes the module's known rates.", min=0, max=921600)
    mode: str = key("auto", "auto: the module's own way (GY streams, AA-A5 is queried, IDC-50 pushes); "
                    "stream or query to force one.", choices=("auto", "stream", "query"))
    poll_hz: float = key(8.0, "Queries per second in query mode (the GY seller asks for less than 10).",
                         min=1.0, max=20.0)
    read_timeout_s: float = key(0.2, "Timeout of one serial read or query.", min=0.02, max=5.0)
    silence_fault_s: float = key(2.0, "No valid frame for this long is a device fault (the driver then reconnects).",
                                 min=0.5, max=60.0)
    reconnect_max_s: float = key(5.0, "Longest wait between reconnect attempts (backoff doubles up to it).",
                                 min=0.2, max=300.0)
    calibration_file: Path | None = key(None, "Offset stored by `kiosk thermometer calibrate`; defaults to "
                                        "<state_dir>/thermometer-calibration.json.")

    def validate(self) -> None:
        try:
            effective_mode(codec(self.protocol), self.mode)
        except DeviceConfigError as exc:
            raise ConfigError(_("{key} = {value!r}: {error}").format(
                key="thermometer.mode", value=self.mode, error=exc)) from None


@dataclass(frozen=True)
class CameraSection:
    """Where frames come from and how hard the decoder tries."""

    enabled: bool = key(True, "False: no camera is attached (codes cannot be scanned; volunteers decide).")
    source: str = key("0", "Camera: device index or /dev/videoN, video file, image-sequence pattern "
                      "(frames/img_%04d.png), stream URL, or 'picamera2' / 'picamera2:N' (CSI camera); "
                      "a relative file or pattern is taken relative to the config file.")
    width: int = key(1280, "Requested frame width.", min=160, max=4096)
    height: int = key(720, "Requested frame height.", min=120, max=4096)
    fps: float = key(15.0, "Requested frame rate.", min=1.0, max=120.0)
    exposure: float | None = key(None, "Manual exposure if the camera supports it (driver units).")
    gain: float | None = key(None, "Manual gain if the camera supports it.")
    decode_budget_ms: float = key(60.0, "Time budget for decoding one frame: after the native scan and one "
                                  "variant, further variants wait for the next frame.", min=5.0, max=1000.0)
    dedupe_s: float = key(3.0, "The same payload seen again within this long of its last sighting is one event.",
                          min=0.0, max=60.0)


@dataclass(frozen=True)
class CodesSection:
    """Offline health-code verification."""

    root_key: Path | None = key(None, "Pinned root public key (PEM) that endorses street signing keys; "
                                "unset: no code can be verified.")
    bundle: Path | None = key(None, "Trust bundle file the sync process replaces atomically; "
                              "defaults to <state_dir>/bundle.cbor.")
    pseudonym_key_file: Path | None = key(None, "Street pseudonym key file (ID number → holder reference) for "
                                          "`kiosk codes issue|bundle` on the issuing side; a gate kiosk needs none.")
    skew_s: float = key(30.0, "Allowed clock skew when checking validity windows.", min=0.0, max=600.0)
    max_payload_bytes: int = key(4096, "Payloads longer than this are rejected before parsing.", min=256, max=65536)


@dataclass(frozen=True)
class VoiceSection:
    """Announcements."""

    backend: str = key("aplay", "aplay (WAV clips), gpio-voice (GPIO-triggered module), espeak, or none.",
                       choices=("aplay", "gpio-voice", "espeak", "none"))
    clips_dir: Path | None = key(None, "Directory of rendered WAV clips; defaults to <state_dir>/voice.")
    device: str = key("default", "ALSA device for aplay.")
    volume: int = key(80, "Volume in percent (aplay and espeak; a gpio-voice module has its own knob).",
                      min=0, max=100)
    mute: bool = key(False, "Silence all announcements (lights and buzzer still work).")
    buffer_ms: int | None = key(None, "aplay's buffer (--buffer-time) in ms: at most this much of a publicity notice "
                                "still plays after a resident cuts it; unset: aplay's own (up to 500 ms).",
                                min=20, max=1000)
    gpio_pins: str = key("", "gpio-voice: BCM pins wired to the module's inputs IO0, IO1, … (comma-separated).",
                         pattern=r"(\d{1,2}( *, *\d{1,2})*)?")
    gpio_mode: str = key("binary", "gpio-voice: 'binary' (the pins select the track number, IO0 lowest bit) "
                         "or 'per_pin' (pin n plays track n).", choices=("binary", "per_pin"))
    gpio_pulse_s: float = key(0.1, "gpio-voice: how long a track trigger is held.", min=0.02, max=2.0)
    gpio_active_low: bool = key(True, "gpio-voice: the module's inputs trigger on a low level (DY-SV5W, DY-HV8F).")

    def pins(self) -> tuple[int, ...]:
        """The gpio-voice trigger pins, IO0 first."""
        return tuple(int(p) for p in self.gpio_pins.replace(" ", "").split(",") if p)

    def validate(self) -> None:
        pins = self.pins()
        for pin in pins:
            if pin not in BCM_PINS:
                raise ConfigError(_("voice.gpio_pins: GPIO{pin} does not exist (0 … 27)").format(pin=pin))
            if pin in RESERVED_PINS:
                raise ConfigError(_("{key}: GPIO{pin} is the {use}; pick another pin").format(
                    key="voice.gpio_pins", pin=pin, use=_(RESERVED_PINS[pin])))
        if len(set(pins)) != len(pins):
            raise ConfigError(_("voice.gpio_pins = {pins!r} names a pin twice").format(pins=self.gpio_pins))
        if self.backend == "gpio-voice" and not pins:
            raise ConfigError(_("voice.backend = 'gpio-voice' needs voice.gpio_pins (the module's trigger inputs)"))
        if len(pins) > 8:
            raise ConfigError(_("voice.gpio_pins: {n} pins given; the modules have 8 inputs (IO0 … IO7)").format(
                n=len(pins)))


@dataclass(frozen=True)
class SyncSection:
    """Upload to the street server."""

    server_url: str = key("http://127.0.0.1:8470", "Street server base URL (http:// or https://).", required=True)
    secret_file: Path | None = key(None, "This kiosk's credential file (street-server kiosk add); via LoadCredential=.")
    ca_file: Path | None = key(None, "The street's CA certificate (street-server tls init): an https:// server_url "
                               "is checked against this CA only (default: the system's CAs).")
    allow_plain_http: bool = key(False, "Allow an http:// server_url other than loopback (answers are still "
                                 "signed, but records travel in clear): a test network only.")
    interval_s: float = key(600.0, "Seconds between sync runs of `kiosk sync` without --once.", min=5.0, max=86400.0)
    connect_timeout_s: float = key(5.0, "HTTP connect timeout.", min=0.5, max=30.0)
    read_timeout_s: float = key(30.0, "HTTP read timeout.", min=1.0, max=120.0)
    batch_max_records: int = key(500, "Records per upload batch.", min=1, max=500)
    offline_after_s: float = key(1800.0, "Without a successful sync for this long the kiosk shows 'offline' "
                                 "(yellow LED blinking) and records it.", min=60.0, max=86400.0)

    def validate(self) -> None:
        """An URL the client could never reach is a typo to report now, not a retry loop later."""
        parts = urlsplit(self.server_url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (parts.scheme not in ("http", "https") or not parts.hostname or port == -1
                or parts.query or parts.fragment or parts.username is not None):
            raise ConfigError(_("sync.server_url = {url!r} must be an http:// or https:// URL with a host and "
                                "optional port and path, e.g. 'https://street.example'").format(url=self.server_url))
        if parts.scheme == "http" and not self.allow_plain_http and not _loopback(parts.hostname):
            raise ConfigError(_("sync.server_url = {url!r} is plain http:// to another machine: use https:// with "
                                "sync.ca_file (street-server tls init), or set sync.allow_plain_http = true on a "
                                "test network").format(url=self.server_url))
        if self.ca_file is not None and parts.scheme != "https":
            raise ConfigError(_("sync.ca_file is set but sync.server_url is not https://"))


def _loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DoorSection:
    """A door-sensor node (`kiosk door run`): one household in home quarantine and its door."""

    household: str = key("hh-" + "0" * 32, "The household's pseudonym as issued by the street office ('hh-' and 32 "
                         "hex digits); never a name, address or ID number.", required=True)
    door: str = key("door", "Name of the watched door (shown on the office's quarantine board).",
                    pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
    quarantine_start: str = key("2026-01-01T00:00", "Quarantine starts (ISO date-time, local time unless it "
                                "carries an offset).", required=True)
    quarantine_end: str = key("2026-01-15T00:00", "Quarantine ends (ISO date-time): the node stops watching and "
                              "the office's board drops the household.", required=True)
    windows: str = key("", "Allowed daily windows, local time, e.g. '08:00-08:30,18:00-18:20' (a delivery, the "
                       "temperature visit); an opening outside them raises an alert. Empty: none.")
    utc_offset_min: int = key(480, "Local time's offset from UTC in minutes (China: 480, no daylight saving).",
                              min=-720, max=840)
    contact_pin: int = key(20, "Reed contact to ground (BCM, internal pull-up): low while the door is shut.",
                           min=0, max=27)
    more_doors: str = key("", "Further doors of the same household, each with its own reed contact to ground: "
                          "'name:BCM' separated by commas, e.g. 'balcony:26'. Empty: one door.")
    tamper_pin: int | None = key(None, "Optional normally-closed tamper loop to ground through the sensor's housing "
                                 "and cable (BCM): high means opened, cut or unplugged.", min=0, max=27)
    buzzer_pin: int | None = key(None, "Optional buzzer (BCM): sounds after an alert event is committed.",
                                 min=0, max=27)
    debounce_ms: int = key(200, "A contact level counts once it has held this long with no edge (reed bounce).",
                           min=10, max=2000)
    held_open_s: float = key(120.0, "A door open this long is reported as held open.", min=5.0, max=3600.0)

    def extra_doors(self) -> list[tuple[str, int]]:
        """door.more_doors as (name, BCM pin) pairs; ConfigError naming the key when malformed."""
        out = []
        for item in (x.strip() for x in self.more_doors.split(",")):
            if not item:
                continue
            name, _sep, pin = item.partition(":")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}", name) or not pin.isdigit() or int(pin) > 27:
                raise ConfigError(_("door.more_doors: {item!r} is not 'name:BCM' (a door name and a pin 0-27)").format(
                    item=item[:40]))
            out.append((name, int(pin)))
        return out

    def validate(self) -> None:
        if not re.fullmatch(HOUSEHOLD_RE, self.household):
            # never echo the value: a mistaken entry may be a name or an ID number
            raise ConfigError(_("door.household is not a household pseudonym ('hh-' and 32 lowercase hex digits, "
                                "as issued by the street office)"))
        pins = [p for p in (self.contact_pin, self.tamper_pin, self.buzzer_pin) if p is not None]
        names = [self.door]
        for name, pin in self.extra_doors():
            pins.append(pin)
            names.append(name)
        if len(set(pins)) != len(pins):
            raise ConfigError(_("door.contact_pin, door.more_doors, door.tamper_pin and door.buzzer_pin must be "
                                "different pins"))
        if len(set(names)) != len(names):
            raise ConfigError(_("door.door and the doors of door.more_doors must have different names"))
        for p in pins:
            if p in RESERVED_PINS:
                raise ConfigError(_("{key}: GPIO{pin} is the {use}; pick another pin").format(
                    key="door", pin=p, use=_(RESERVED_PINS[p])))


SECTIONS: dict[str, type] = {
    "kiosk": KioskSection,
    "store": StoreSection,
    "gpio": GpioSection,
    "flow": FlowSection,
    "temperature": TemperatureSection,
    "thermometer": ThermometerSection,
    "camera": CameraSection,
    "codes": CodesSection,
    "voice": VoiceSection,
    "sync": SyncSection,
    "door": DoorSection,
}


@dataclass(frozen=True)
class Config:
    """The whole configuration; one frozen attribute per section."""

    kiosk: KioskSection = field(default_factory=KioskSection)
    store: StoreSection = field(default_factory=StoreSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    flow: FlowSection = field(default_factory=FlowSection)
    temperature: TemperatureSection = field(default_factory=TemperatureSection)
    thermometer: ThermometerSection = field(default_factory=ThermometerSection)
    camera: CameraSection = field(default_factory=CameraSection)
    codes: CodesSection = field(default_factory=CodesSection)
    voice: VoiceSection = field(default_factory=VoiceSection)
    sync: SyncSection = field(default_factory=SyncSection)
    door: DoorSection = field(default_factory=DoorSection)
    source: Path | None = None
    given: frozenset[str] = field(default=frozenset(), compare=False)   # "section.key" set in the file

    def require(self, *keys: str) -> None:
        """Refuse to go on while a required key (``kiosk.id``, …) is not set in the file: a fresh
        install's example config, or a file that forgot one. Configs not read from a file (tests,
        the demo) have every key they need."""
        if self.source is None:
            return
        missing = [k for k in keys if k not in self.given]
        if missing:
            raise NotConfigured(_("{file} does not set {keys} yet: set them for this kiosk (kiosk.id as "
                                  "registered with `street-server kiosk add ID`), then start it again").format(
                file=self.source, keys=", ".join(missing)))

    # Where each shared file is (names: kiosk/statefiles.py); a key of the config wins where one exists.

    @property
    def db_path(self) -> Path:
        return self.store.path or self.kiosk.state_dir / statefiles.PASS_LOG

    @property
    def calibration_path(self) -> Path:
        return self.thermometer.calibration_file or self.kiosk.state_dir / statefiles.CALIBRATION

    @property
    def bundle_path(self) -> Path:
        return self.codes.bundle or self.kiosk.state_dir / statefiles.BUNDLE

    @property
    def last_good_bundle_path(self) -> Path:
        return self.kiosk.state_dir / statefiles.BUNDLE_LAST_GOOD

    @property
    def clips_dir(self) -> Path:
        return self.voice.clips_dir or self.kiosk.state_dir / statefiles.VOICE_DIR

    @property
    def sync_state_path(self) -> Path:
        return self.kiosk.state_dir / statefiles.SYNC_STATE

    @property
    def status_path(self) -> Path:
        return statefiles.status_path(self.kiosk.runtime_dir)

    def replace(self, **sections: Any) -> Config:
        """A copy with some sections replaced (tests and the demo adjust one or two keys)."""
        return dataclasses.replace(self, **sections)


# --------------------------------------------------------------------------- loading

def resolve_path(explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path:
    """--config wins, then $KIOSK_CONFIG, then /etc/kiosk/kiosk.toml."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    return DEFAULT_PATH


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, type-check and range-check the config file; raise ConfigError naming the key."""
    p = resolve_path(path, env)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(_("config file {file} not found (pass --config PATH or set {env})").format(
            file=p, env=ENV_VAR)) from None
    except OSError as exc:
        raise ConfigError(_("config file {file} cannot be read: {error}").format(
            file=p, error=exc.strerror or exc)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(_("config file {file} is not UTF-8 text").format(file=p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("config file {file} is not valid TOML: {error}").format(file=p, error=exc)) from None
    return from_dict(data, base_dir=p.resolve().parent, source=p)


def from_dict(data: Mapping[str, Any], base_dir: Path | None = None, source: Path | None = None) -> Config:
    """Build a Config from parsed TOML; relative paths are taken relative to ``base_dir``."""
    sections: dict[str, Any] = {}
    for name in data:
        if name not in SECTIONS:
            allowed = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(_("unknown section [{name}] (allowed: {allowed})").format(name=name, allowed=allowed))
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(_("{name} must be a table [{name}], not a {type}").format(
                name=name, type=type(table).__name__))
        sections[name] = _build_section(name, cls, table, base_dir)
    given = frozenset(f"{name}.{k}" for name, table in data.items() if isinstance(table, dict) for k in table)
    cfg = Config(**sections, source=source, given=given)
    _check_voice_pins(cfg)
    return _camera_relative_to(cfg, base_dir)


def _camera_relative_to(cfg: Config, base_dir: Path | None) -> Config:
    """A relative clip or image-sequence path in ``camera.source`` is relative to the config file,
    like every other path in it (the stand-in config points at ``../var/standin/camera``)."""
    s = cfg.camera.source.strip()
    if (base_dir is None or not s or s.isdigit() or s.startswith("/") or "://" in s
            or s == "picamera2" or s.startswith("picamera2:")):
        return cfg
    return cfg.replace(camera=dataclasses.replace(cfg.camera, source=os.path.normpath(base_dir / s)))


def _check_voice_pins(cfg: Config) -> None:
    """A gpio-voice trigger pin must not also be in the [gpio] pin map."""
    if cfg.voice.backend != "gpio-voice":
        return
    used = {pin: name for name, pin in cfg.gpio.pin_keys().items()}
    for pin in cfg.voice.pins():
        if pin in used:
            raise ConfigError(_("voice.gpio_pins: GPIO{pin} is already used by {other}").format(
                pin=pin, other=f"gpio.{used[pin]}"))


# what an annotation of a section's field may name (every field is one of these, or it | None)
_KEY_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str, "Path": Path}


def _key_type(where: str, annotation: str) -> Any:
    """The type of a field from its annotation, read (as ``from __future__ import annotations``
    leaves it) without ``typing.get_type_hints``, which compiled every annotation of every section
    at each start: ~3 ms of CPU before READY (docs/benchmarks.md)."""
    names = [n.strip() for n in annotation.split("|")]
    bases = [_KEY_TYPES.get(n) for n in names if n != "None"]
    if len(bases) != 1 or bases[0] is None:
        raise AssertionError(f"unsupported config type {annotation!r} for {where}")  # a schema bug
    return bases[0] | None if "None" in names else bases[0]


def _build_section(section: str, cls: type, table: Mapping[str, Any], base_dir: Path | None) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in table:
        if k not in fields:
            raise ConfigError(_("{key} is not a known key (known: {known})").format(
                key=f"{section}.{k}", known=", ".join(fields)))
    values = {}
    for name, f in fields.items():
        if name not in table:
            continue
        where = f"{section}.{name}"
        values[name] = _coerce(where, _key_type(where, str(f.type)), table[name], f.metadata, base_dir)
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def _coerce(where: str, hint: Any, value: Any, meta: Mapping[str, Any], base_dir: Path | None) -> Any:
    base, _optional = _unwrap_optional(hint)
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(_("{key} must be true or false, not {value!r}").format(key=where, value=value))
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(_("{key} must be an integer, not {value!r}").format(key=where, value=value))
        _check_range(where, value, meta)
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(_("{key} must be a number, not {value!r}").format(key=where, value=value))
        _check_range(where, float(value), meta)
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise ConfigError(_("{key} must be a string, not {value!r}").format(key=where, value=value))
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(_("{key} = {value!r} is not one of: {choices}").format(
                key=where, value=value, choices=", ".join(repr(c) for c in choices)))
        pattern = meta.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigError(_("{key} = {value!r} must match {pattern}").format(
                key=where, value=value, pattern=pattern))
        return value
    if base is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(_("{key} must be a non-empty path string, not {value!r}").format(key=where, value=value))
        p = Path(value).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = Path(os.path.normpath(base_dir / p))
        return p
    raise AssertionError(f"unsupported config type {hint!r} for {where}")  # a schema bug, not user input


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def _check_range(where: str, value: float, meta: Mapping[str, Any]) -> None:
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(_("{key} = {value!r} is out of range (allowed {lo} … {hi})").format(
            key=where, value=value, lo=_fmt(lo), hi=_fmt(hi)))


def _fmt(v: float | None) -> str:
    if v is None:
        return "∞"
    return str(int(v)) if float(v).is_integer() else str(v)


# --------------------------------------------------------------------------- documentation

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _allowed(f: dataclasses.Field[Any], hint: Any) -> str:
    m = f.metadata
    if m.get("choices"):
        return "one of " + ", ".join(m["choices"])
    if m.get("min") is not None or m.get("max") is not None:
        return f"{_fmt(m.get('min'))} … {_fmt(m.get('max'))}"
    base, _opt = _unwrap_optional(hint)
    return {bool: "true/false", Path: "path", str: "text", int: "integer", float: "number"}.get(base, "")


def example_toml() -> str:
    """The commented example config: every key with its doc, allowed values and default."""
    out = ["# Checkpoint kiosk configuration: every key, with its default.",
           "# Generated from kiosk/config.py (python -m kiosk.config example); a test keeps it in sync.",
           "# Each key is set to its default; '# key = <unset>' marks optional keys that are unset",
           "# by default. Relative paths are relative to this file. Unknown keys are an error.",
           "# Keys marked REQUIRED have no sensible default: `kiosk run` (kiosk.id, kiosk.compound) and",
           "# `kiosk sync` (kiosk.id, sync.server_url) refuse to start until this file sets them.", ""]
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        out.append(f"[{name}]")
        out.append(f"# {(cls.__doc__ or '').strip()}")
        for f in dataclasses.fields(cls):
            out.append(f"# {f.metadata['doc']} ({_allowed(f, hints[f.name])})")
            if f.metadata.get("required"):
                out.append("# REQUIRED: uncomment and set this kiosk's own value")
                out.append(f"# {f.name} = {_toml_value(f.default)}")
            elif f.default is None:
                out.append(f"# {f.name} = <unset>")
            else:
                out.append(f"{f.name} = {_toml_value(f.default)}")
        out.append("")
    return "\n".join(out)


def reference_markdown() -> str:
    """The README's configuration reference, one table per section."""
    out = []
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        out.append(f"**[{name}]** — {(cls.__doc__ or '').strip()}\n")
        out.append("| key | default | allowed | meaning |")
        out.append("|---|---|---|---|")
        for f in dataclasses.fields(cls):
            default = ("**required**" if f.metadata.get("required") else "unset" if f.default is None
                       else f"`{_toml_value(f.default)}`")
            out.append(f"| `{f.name}` | {default} | {_allowed(f, hints[f.name])} | {f.metadata['doc']} |")
        out.append("")
    return "\n".join(out)


def reference_document() -> str:
    """docs/configuration.md: the reference page, regenerated from the schema."""
    return ("# Configuration reference\n\n"
            "Generated from `kiosk/config.py` by `python -m kiosk.config reference > docs/configuration.md`; "
            "a test keeps it in sync. The file is `/etc/kiosk/kiosk.toml` unless `--config PATH` or "
            "`KIOSK_CONFIG` says otherwise; a commented example with every key is "
            "`config/kiosk.example.toml`. Unknown keys and out-of-range values stop the kiosk at start-up "
            "with a message naming `section.key` and what is allowed.\n\n" + reference_markdown())


if __name__ == "__main__":  # pragma: no cover - tiny generator entry point
    import sys

    what = sys.argv[1] if len(sys.argv) > 1 else "example"
    print(example_toml() if what == "example" else reference_document())
