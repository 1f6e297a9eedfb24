"""Draw docs/wiring.svg — the Pi's 40-pin header with the kiosk's default pin map and the power
the boards take from it — from the config schema, so the picture can never disagree with the
defaults (a test checks it).

    python docs/wiring.py              # writes docs/wiring.svg (beside this script)
    python docs/wiring.py --out FILE   # elsewhere; --out - prints it
"""

from __future__ import annotations

import argparse
import sys
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.config import GpioSection

# physical pin → what the header carries there (Raspberry Pi 40-pin header, all models since B+)
HEADER: dict[int, str] = {
    1: "3V3", 2: "5V", 3: "GPIO2", 4: "5V", 5: "GPIO3", 6: "GND", 7: "GPIO4", 8: "GPIO14", 9: "GND",
    10: "GPIO15", 11: "GPIO17", 12: "GPIO18", 13: "GPIO27", 14: "GND", 15: "GPIO22", 16: "GPIO23",
    17: "3V3", 18: "GPIO24", 19: "GPIO10", 20: "GND", 21: "GPIO9", 22: "GPIO25", 23: "GPIO11",
    24: "GPIO8", 25: "GND", 26: "GPIO7", 27: "GPIO0", 28: "GPIO1", 29: "GPIO5", 30: "GND",
    31: "GPIO6", 32: "GPIO12", 33: "GPIO13", 34: "GND", 35: "GPIO19", 36: "GPIO16", 37: "GPIO26",
    38: "GPIO20", 39: "GND", 40: "GPIO21",
}
WIRING: dict[str, tuple[str, str]] = {   # config key → (label, how it is wired)
    "relay_pin": ("GATE RELAY", "relay IN, 10 kΩ pull-down"),
    "led_green_pin": ("green LED", "330 Ω → LED → GND"),
    "led_red_pin": ("red LED", "330 Ω → LED → GND"),
    "led_yellow_pin": ("yellow LED", "330 Ω → LED → GND"),
    "buzzer_pin": ("buzzer", "NPN transistor base via 1 kΩ"),
    "amp_enable_pin": ("amplifier enable", "amp SD/EN input"),
    "button_pass_pin": ("button: manual pass", "button → GND"),
    "button_deny_pin": ("button: manual deny", "button → GND"),
    "button_remeasure_pin": ("button: re-measure", "button → GND"),
    "button_emergency_pin": ("emergency, hold 3 s", "button → GND"),
}
# each LED's dot in its own colour; the relay apart from them all
COLOURS = {"relay": "#4e342e", "led_green": "#2e7d32", "led_red": "#d32f2f", "led_yellow": "#f9a825",
           "buzzer": "#6a1b9a", "amp": "#6a1b9a", "button": "#1565c0", "uart": "#ef6c00", "power": "#9e9e9e"}
# physical pin → (label, how it is wired): the supply and ground each board takes from the header
POWER: dict[int, tuple[str, str]] = {
    1: ("thermometer VCC", "3.3 V to the module's VCC"),
    2: ("relay board VCC", "5 V to the relay module's VCC"),
    4: ("amplifier VCC", "5 V to the amplifier's supply"),
    6: ("relay board GND", "relay module GND"),
    9: ("thermometer GND", "module GND, beside its UART pins"),
    14: ("amplifier GND", "amplifier GND"),
    20: ("LEDs, buzzer, buttons GND", "their common ground"),
}


def pin_roles() -> dict[int, tuple[str, str, str]]:
    """BCM number → (label, wiring note, colour) for every pin the default map uses."""
    gpio = GpioSection()
    roles: dict[int, tuple[str, str, str]] = {}
    for key, (label, note) in WIRING.items():
        kind = ("relay" if "relay" in key else key.removesuffix("_pin") if key.startswith("led_")
                else "button" if "button" in key else "buzzer" if "buzzer" in key else "amp")
        roles[getattr(gpio, key)] = (label, f"{key} = {getattr(gpio, key)}; {note}", COLOURS[kind])
    roles[14] = ("thermometer RX", "UART TXD → module RX (/dev/serial0)", COLOURS["uart"])
    roles[15] = ("thermometer TX", "UART RXD ← module TX (3.3 V logic)", COLOURS["uart"])
    return roles


def svg() -> str:
    roles = pin_roles()
    w, row_h, top = 1340, 26, 70
    cx_odd, cx_even = 645, 695
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{top + 20 * row_h + 60}" '
           'font-family="DejaVu Sans, Arial, sans-serif" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="670" y="28" text-anchor="middle" font-size="18" font-weight="bold">'
           'Checkpoint kiosk — Raspberry Pi 40-pin header (default [gpio] pin map, BCM numbers)</text>',
           '<text x="670" y="50" text-anchor="middle" fill="#555">Buttons use internal pull-ups and '
           'switch to GND. All GPIO are 3.3 V: never connect 5 V signals.</text>',
           f'<rect x="{cx_odd - 28}" y="{top - 14}" width="{cx_even - cx_odd + 56}" '
           f'height="{20 * row_h + 6}" rx="6" fill="#263238"/>']
    for n in range(1, 41):
        row = (n - 1) // 2
        y = top + row * row_h
        odd = n % 2 == 1
        cx = cx_odd if odd else cx_even
        name = HEADER[n]
        bcm = int(name[4:]) if name.startswith("GPIO") else None
        role = roles.get(bcm) if bcm is not None else None
        if n in POWER:
            role = (POWER[n][0], POWER[n][1], "#607d8b")
        fill = (role[2] if role and bcm is not None else "#e53935" if name == "5V" else "#fbc02d" if name == "3V3"
                else "#212121" if name == "GND" else "#b0bec5")
        out.append(f'<circle cx="{cx}" cy="{y}" r="9" fill="{fill}" stroke="white" stroke-width="1.5"/>')
        out.append(f'<text x="{cx}" y="{y + 4}" text-anchor="middle" font-size="9" fill="white">{n}</text>')
        anchor, tx = ("end", cx - 42) if odd else ("start", cx + 42)
        label = f"{name}" + (f"  ·  {role[0]}" if role else "")
        weight = "bold" if role else "normal"
        colour = role[2] if role else "#607d8b"
        if odd:
            label = (f"{role[0]}  ·  " if role else "") + name
        out.append(f'<text x="{tx}" y="{y + 4}" text-anchor="{anchor}" font-weight="{weight}" '
                   f'fill="{colour}">{escape(label)}</text>')
        if role:
            nx = tx - 260 if odd else tx + 260
            out.append(f'<text x="{nx}" y="{y + 4}" text-anchor="{anchor}" font-size="11" '
                       f'fill="#455a64">{escape(role[1])}</text>')
    y = top + 20 * row_h + 24
    legend = [(COLOURS["relay"], "gate relay"), (COLOURS["led_green"], "green LED"), (COLOURS["led_red"], "red LED"),
              (COLOURS["led_yellow"], "yellow LED"), (COLOURS["button"], "buttons"),
              (COLOURS["buzzer"], "buzzer / amplifier"), (COLOURS["uart"], "thermometer UART"),
              ("#e53935", "5 V"), ("#fbc02d", "3.3 V"), ("#212121", "GND")]
    x = 120
    for colour, text in legend:
        out.append(f'<circle cx="{x}" cy="{y}" r="7" fill="{colour}"/>')
        out.append(f'<text x="{x + 12}" y="{y + 4}">{escape(text)}</text>')
        x += 40 + 8 * len(text)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Draw the kiosk's wiring diagram from the default pin map.")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "wiring.svg"),
                   help="where to write it (default: docs/wiring.svg beside this script; - for stdout)")
    args = p.parse_args(argv)
    if args.out == "-":
        sys.stdout.write(svg())
        return 0
    Path(args.out).write_text(svg(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
