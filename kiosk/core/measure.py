"""From thermometer samples to one reading a person can trust (docs/thermometer.md §2.6).

Once a target is present, the first ``settle_s`` of samples are discarded, then the median of
at least ``min_samples`` samples lying within ``window_s`` is the reading. A spread above
``max_spread_c`` means the resident moved: the attempt restarts. Nothing here invents a
value: no samples, no reading; a cold forehead is never rounded up to "normal".

Body-equivalent value of a sample (:func:`body_estimate`): body-mode modules (aa-a5-body,
idc50-push) report it themselves and skip the skin compensation; raw-object modules (GY) get
the skin offset plus an ambient term. The calibration offset from ``kiosk thermometer
calibrate`` (a reference thermometer against the kiosk's own estimate) is added for every
module, since it corrects the whole chain.

A target is present when the body estimate reaches ``no_target_c`` and, for raw-object modules
that also report ambient, the object reads at least ``target_delta_c`` above the air: in hot
weather an empty sensor reads the air (35 °C air + 0.5 offset would otherwise look "normal").

Slow modules (decision): the IDC-50 pushes one already-filtered value every 500 ms (95 %
response in 500 ms), so five samples cannot lie within one second. Rather than stretching
the window to ~2.5 s (close to the 3 s hard ceiling, and five correlated outputs of a
filtered module are not five independent looks), :func:`sampling_plan` caps the sample count
at what the module can deliver within ``window_s`` — never fewer than three, still a median
that rejects one outlier — and widens the window just enough (25 % for timing jitter) to hold
them. At 2 Hz that is the median of 3 samples within 1.25 s, a verdict about 1.5 s after the
target appears; at 14 Hz (GY streaming) and 8 Hz (queries) nothing changes. The pass log
records the sample count of every reading, so the office can see which rule applied.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from kiosk.config import TemperatureSection
from kiosk.core.events import TempSample
from kiosk.core.policy import Bands, temperature_band
from kiosk.core.records import Reading
from kiosk.core.value import Value

MIN_SLOW_SAMPLES = 3
JITTER_MARGIN = 1.25


class Unsteady(Value):
    """The samples disagreed by more than the allowed spread; measure again."""

    spread_c: float


def bands_of(cfg: TemperatureSection) -> Bands:
    return Bands(no_target_c=cfg.no_target_c, low_c=cfg.low_c, fever_c=cfg.fever_c,
                 implausible_c=cfg.implausible_c)


def _skin_offset(ambient_c: float | None, cfg: TemperatureSection) -> float:
    offset = cfg.skin_offset_c
    if ambient_c is not None and ambient_c < cfg.ambient_ref_c:
        offset += cfg.ambient_coeff * (cfg.ambient_ref_c - ambient_c)
    return offset


def body_estimate(sample: TempSample, cfg: TemperatureSection, calibration_c: float = 0.0) -> float:
    """Body-equivalent temperature of one sample.

    Body-mode modules report it themselves. For raw forehead (object) temperature we add the
    configured skin offset (forehead reads ~0.5 °C below axillary, Chen 2022) plus an ambient
    term: skin cools in cold air, so below ``ambient_ref_c`` each degree adds ``ambient_coeff``.
    The calibration offset applies to both.
    """
    if sample.body_c is not None:
        return sample.body_c + calibration_c
    if sample.object_c is None:
        raise ValueError("a sample needs an object or a body temperature")
    return sample.object_c + _skin_offset(sample.ambient_c, cfg) + calibration_c


def object_for_body(body_c: float, ambient_c: float | None, cfg: TemperatureSection,
                    calibration_c: float = 0.0) -> float:
    """The raw object temperature a raw-object module reads on someone whose body-equivalent
    temperature is ``body_c`` (the inverse of :func:`body_estimate`; the demo and tests)."""
    return body_c - calibration_c - _skin_offset(ambient_c, cfg)


def target_present(sample: TempSample, body_c: float, cfg: TemperatureSection) -> bool:
    """Whether someone is in front of the sensor (see the module docstring)."""
    if body_c < cfg.no_target_c:
        return False
    if (sample.body_c is None and sample.object_c is not None and sample.ambient_c is not None
            and cfg.target_delta_c > 0):
        return sample.object_c - sample.ambient_c >= cfg.target_delta_c
    return True


def sampling_plan(cfg: TemperatureSection, sample_hz: float | None) -> tuple[int, float]:
    """(samples needed, window in seconds) for a module delivering ``sample_hz`` frames a second."""
    if sample_hz is None or sample_hz <= 0:
        return cfg.min_samples, cfg.window_s
    fit = int(sample_hz * cfg.window_s / JITTER_MARGIN) + 1     # samples that fit, with jitter to spare
    if fit >= cfg.min_samples:
        return cfg.min_samples, cfg.window_s
    needed = min(cfg.min_samples, max(MIN_SLOW_SAMPLES, fit))
    return needed, max(cfg.window_s, (needed - 1) / sample_hz * JITTER_MARGIN)


@dataclass
class MeasurementWindow:
    """Collects the samples of one measurement attempt."""

    cfg: TemperatureSection
    sample_hz: float | None = None       # the module's frame rate (None: assume it is fast enough)
    calibration_c: float = 0.0           # from `kiosk thermometer calibrate`
    target_since: float | None = None
    samples: list[tuple[TempSample, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.needed, self.window_s = sampling_plan(self.cfg, self.sample_hz)

    def reset(self) -> None:
        self.target_since = None
        self.samples.clear()

    def add(self, sample: TempSample) -> Reading | Unsteady | None:
        """Feed one sample; return a finished reading, an unsteady verdict, or None (need more)."""
        cfg = self.cfg
        if sample.object_c is None and sample.body_c is None:
            return None           # carries no temperature: not a sample (drivers never send one)
        body = body_estimate(sample, cfg, self.calibration_c)
        if not target_present(sample, body, cfg):
            self.reset()          # nobody there (or they stepped away): start over
            return None
        if self.target_since is None:
            self.target_since = sample.t
        if sample.t - self.target_since < cfg.settle_s:
            return None
        self.samples.append((sample, body))
        newest = sample.t
        self.samples[:] = [(s, b) for s, b in self.samples if newest - s.t <= self.window_s]
        if len(self.samples) < self.needed:
            return None
        bodies = [b for _, b in self.samples]
        spread = max(bodies) - min(bodies)
        if round(spread, 6) > cfg.max_spread_c:     # 36.2 - 35.9 is 0.30000000000000426
            self.samples.clear()
            return Unsteady(spread_c=spread)
        value = statistics.median(bodies)
        ambients = [s.ambient_c for s, _ in self.samples if s.ambient_c is not None]
        objects = [s.object_c for s, _ in self.samples if s.object_c is not None]
        reading = Reading(
            value_c=value,
            samples=len(bodies),
            spread_c=spread,
            ambient_c=statistics.median(ambients) if ambients else None,
            band=temperature_band(value, bands_of(cfg)),
            object_c=statistics.median(objects) if objects else None,
        )
        self.reset()
        return reading
