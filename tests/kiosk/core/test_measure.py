"""Samples to readings: settle time, median, spread, target loss, compensation; the policy
table, target presence, the sampling plan for slow modules, calibration."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk import config as config_mod
from kiosk.config import TemperatureSection
from kiosk.core.events import TempSample
from kiosk.core.measure import (
    MeasurementWindow,
    Unsteady,
    body_estimate,
    object_for_body,
    sampling_plan,
    target_present,
)
from kiosk.core.policy import Bands, low_reading_message, temperature_band
from kiosk.core.records import Reading

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


# --------------------------------------------------------------------------- thermometer policy (issue 3)

T = TemperatureSection()


# ------------------------------------------------------------ the policy table (docs/thermometer.md §2.5)

@pytest.mark.parametrize("value, band", [
    (20.0, "no_target"), (31.99, "no_target"),
    (32.0, "low"), (33.5, "low"), (34.99, "low"),
    (35.0, "normal"), (36.5, "normal"), (37.29, "normal"),
    (37.3, "high"), (38.5, "high"), (42.5, "high"),
    (42.51, "implausible"), (60.0, "implausible"),
])
def test_temperature_bands(value: float, band: str) -> None:
    assert temperature_band(value, Bands()) == band


def test_fever_threshold_is_configurable() -> None:
    assert temperature_band(37.4, Bands(fever_c=37.5)) == "normal"
    assert temperature_band(37.5, Bands(fever_c=37.5)) == "high"


@pytest.mark.parametrize("ambient, message", [(-3.0, "temp_low_cold"), (9.9, "temp_low_cold"),
                                              (10.0, "temp_low"), (None, "temp_low")])
def test_low_readings_get_the_cold_hint_only_in_the_cold(ambient: float | None, message: str) -> None:
    assert low_reading_message(ambient, 10.0) == message


# --------------------------------------------------------------------------- body estimate

def _s(obj: float | None, amb: float | None = 22.0, body: float | None = None, t: float = 0.0) -> TempSample:
    return TempSample(obj, amb, body, t)


def test_raw_object_gets_the_skin_offset_and_body_mode_skips_it() -> None:
    assert body_estimate(_s(36.0), T) == pytest.approx(36.5)
    assert body_estimate(_s(None, 22.0, 36.6), T) == 36.6
    assert body_estimate(_s(30.0, 22.0, 36.6), T) == 36.6          # the module's body value wins


def test_ambient_term_warms_cold_skin_and_calibration_applies_to_both_kinds() -> None:
    cold = dataclasses.replace(T, ambient_coeff=0.05, ambient_ref_c=25.0)
    assert body_estimate(_s(34.0, -5.0), cold) == pytest.approx(34.0 + 0.5 + 0.05 * 30)
    assert body_estimate(_s(34.0, 30.0), cold) == pytest.approx(34.5)    # no term above the reference
    assert body_estimate(_s(36.0), T, calibration_c=-0.3) == pytest.approx(36.2)
    assert body_estimate(_s(None, None, 36.6), T, calibration_c=0.2) == pytest.approx(36.8)


@pytest.mark.parametrize("ambient", [-10.0, 5.0, 22.0, 30.0])
def test_object_for_body_inverts_the_estimate(ambient: float) -> None:
    cfg = dataclasses.replace(T, ambient_coeff=0.04)
    obj = object_for_body(36.7, ambient, cfg, calibration_c=0.25)
    assert body_estimate(_s(obj, ambient), cfg, calibration_c=0.25) == pytest.approx(36.7)


@pytest.mark.parametrize("obj, amb, body, present", [
    (22.0, 22.0, None, False),        # nobody: the sensor sees the room
    (35.0, 35.0, None, False),        # hot day, nobody: 35.5 would look "normal" without the delta check
    (36.0, 34.0, None, False),        # hot day, forehead too close to the air temperature to tell
    (35.5, 30.0, None, True),
    (32.9, -3.0, None, True),         # cold forehead outdoors is still a target (a low one)
    (30.0, 22.0, None, False),        # 30.5 is below no_target_c
    (None, None, 36.6, True),         # body-mode modules decide presence by value only
    (None, 22.0, 22.5, False),
])
def test_target_presence(obj: float | None, amb: float | None, body: float | None, present: bool) -> None:
    s = _s(obj, amb, body)
    assert target_present(s, body_estimate(s, T), T) is present


# --------------------------------------------------------------------------- sampling plan (slow modules)

@pytest.mark.parametrize("hz, plan", [
    (None, (5, 1.0)), (14.0, (5, 1.0)), (8.0, (5, 1.0)), (5.0, (5, 1.0)),
    (4.0, (4, 1.0)), (2.0, (3, 1.25)), (1.0, (3, 2.5)),
])
def test_sampling_plan(hz: float | None, plan: tuple[int, float]) -> None:
    assert sampling_plan(T, hz) == plan


# --------------------------------------------------------------------------- the window

def _feed(window: MeasurementWindow, values: list[float], hz: float, t0: float = 0.0,
          ambient: float = 22.0) -> list[Reading | Unsteady]:
    out = []
    for i, v in enumerate(values):
        r = window.add(_s(v, ambient, t=t0 + i / hz))
        if r is not None:
            out.append(r)
    return out


def test_settle_then_median_of_five_within_one_second_at_14_hz() -> None:
    w = MeasurementWindow(T, sample_hz=14.0)
    values = [33.0, 34.0, 35.0] + [36.0, 36.1, 35.9, 36.2, 36.0]   # the first 0.2 s are discarded
    [reading] = _feed(w, values, 14.0)
    assert isinstance(reading, Reading)
    assert reading.value_c == pytest.approx(36.5) and reading.samples == 5
    assert reading.spread_c == pytest.approx(0.3) and reading.ambient_c == 22.0
    assert reading.object_c == pytest.approx(36.0) and reading.band == "normal"


def test_no_samples_no_reading_and_stepping_away_starts_over() -> None:
    w = MeasurementWindow(T, sample_hz=14.0)
    assert _feed(w, [36.0] * 6 + [22.0] + [36.0] * 4, 14.0) == []       # never 5 after settling in a row
    assert len(w.samples) == 1 and w.target_since == pytest.approx(7 / 14)


def test_moving_resident_is_unsteady_not_averaged() -> None:
    w = MeasurementWindow(T, sample_hz=14.0)
    results = _feed(w, [36.0] * 3 + [35.6, 36.4, 36.0, 36.1, 36.0], 14.0)
    assert [type(r) for r in results] == [Unsteady]
    assert results[0].spread_c == pytest.approx(0.8)


def test_a_cold_forehead_is_low_never_normal() -> None:
    w = MeasurementWindow(T, sample_hz=14.0)
    [reading] = _feed(w, [32.9] * 8, 14.0, ambient=-3.0)
    assert isinstance(reading, Reading) and reading.band == "low" and reading.ambient_c == -3.0


def test_two_hertz_module_reads_median_of_three_within_its_window() -> None:
    w = MeasurementWindow(T, sample_hz=2.0)
    results = []
    for i, v in enumerate([22.5, 36.4, 36.6, 36.5, 36.7]):        # idc50: body values every 0.5 s
        r = w.add(_s(None, None, v, t=i * 0.5))
        if r is not None:
            results.append((i, r))
    [(i, reading)] = results
    assert isinstance(reading, Reading)
    assert i == 4 and reading.samples == 3 and reading.value_c == pytest.approx(36.6)
    assert reading.object_c is None and reading.ambient_c is None


def test_flow_uses_the_configured_module_rate_and_calibration() -> None:
    from kiosk.core.flow import Flow
    from kiosk.devices.thermometer import sample_hz
    cfg = config_mod.from_dict({"thermometer": {"protocol": "idc50-push"}})
    flow = Flow(cfg, calibration_c=0.3, sample_hz=sample_hz(cfg))
    assert (flow.window.needed, flow.window.window_s, flow.window.calibration_c) == (3, 1.25, 0.3)
    gy_cfg = config_mod.from_dict({"thermometer": {"mode": "query", "poll_hz": 8.0}})
    gy = Flow(gy_cfg, sample_hz=sample_hz(gy_cfg))
    assert (gy.window.needed, gy.window.window_s) == (5, 1.0)


def test_thermometer_config_rejects_a_mode_the_module_cannot_do() -> None:
    from kiosk.errors import ConfigError
    with pytest.raises(ConfigError, match=r"thermometer\.mode = 'stream': aa-a5-body only answers queries"):
        config_mod.from_dict({"thermometer": {"protocol": "aa-a5-body", "mode": "stream"}})
