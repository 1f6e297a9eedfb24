"""Samples to readings: settle time, median, spread, target loss, compensation."""

from __future__ import annotations

import dataclasses

from kiosk.config import TemperatureSection
from kiosk.events import TempSample
from kiosk.measure import MeasurementWindow, Unsteady, body_estimate
from kiosk.records import Reading

CFG = TemperatureSection()


def feed(window: MeasurementWindow, values: list[float], start: float = 0.0, hz: float = 14.0,
         ambient: float | None = 22.0):
    out = []
    for i, v in enumerate(values):
        r = window.add(TempSample(v - CFG.skin_offset_c, ambient, None, start + i / hz))
        if r is not None:
            out.append((i, r))
    return out


def test_median_of_five_after_settling() -> None:
    w = MeasurementWindow(CFG)
    results = feed(w, [36.5, 36.6, 36.4, 36.7, 36.5, 36.6, 36.5, 36.6, 36.6])
    (i, r), = results[:1]
    assert isinstance(r, Reading)
    # 0.2 s settle at 14 Hz discards samples 0-2; samples 3..7 make the first reading
    assert i == 7 and r.samples == 5 and r.band == "normal"
    assert abs(r.value_c - 36.6) < 1e-9 and abs(r.spread_c - 0.2) < 1e-9 and r.ambient_c == 22.0


def test_nothing_is_invented_without_a_target() -> None:
    w = MeasurementWindow(CFG)
    assert feed(w, [25.0] * 50) == []


def test_target_lost_mid_window_starts_over() -> None:
    w = MeasurementWindow(CFG)
    values = [36.5] * 6 + [24.0] + [36.5] * 7
    results = feed(w, values)
    assert results == [] or results[0][0] >= 6 + 1 + 3 + 4


def test_spread_too_wide_is_unsteady() -> None:
    w = MeasurementWindow(CFG)
    results = feed(w, [36.0, 37.0] * 6)
    assert results and isinstance(results[0][1], Unsteady) and results[0][1].spread_c > CFG.max_spread_c


def test_samples_older_than_the_window_do_not_count() -> None:
    w = MeasurementWindow(CFG)
    assert feed(w, [36.5] * 6, hz=2.0) == []      # 2 Hz: never 5 samples within 1 s


def test_ambient_compensation_only_for_raw_object_temperature() -> None:
    cold = dataclasses.replace(CFG, ambient_coeff=0.05)
    raw = TempSample(object_c=35.0, ambient_c=5.0, body_c=None, t=0.0)
    assert abs(body_estimate(raw, cold) - (35.0 + cold.skin_offset_c + 0.05 * 20.0)) < 1e-9
    body = TempSample(object_c=35.0, ambient_c=5.0, body_c=36.4, t=0.0)
    assert body_estimate(body, cold) == 36.4
    warm = TempSample(object_c=35.0, ambient_c=30.0, body_c=None, t=0.0)
    assert body_estimate(warm, cold) == 35.0 + cold.skin_offset_c
