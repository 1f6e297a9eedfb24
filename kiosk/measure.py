"""From thermometer samples to one reading a person can trust (research/thermometer.md §2.5).

Once a target is present (body estimate at or above the no-target threshold), the first
``settle_s`` of samples are discarded, then the median of at least ``min_samples`` samples lying
within ``window_s`` is the reading. A spread above ``max_spread_c`` means the resident moved:
the attempt restarts. Nothing here invents a value: no samples, no reading.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from kiosk.config import TemperatureSection
from kiosk.events import TempSample
from kiosk.policy import Bands, temperature_band
from kiosk.records import Reading


@dataclass(frozen=True)
class Unsteady:
    """The samples disagreed by more than the allowed spread; measure again."""

    spread_c: float


def bands_of(cfg: TemperatureSection) -> Bands:
    return Bands(no_target_c=cfg.no_target_c, low_c=cfg.low_c, fever_c=cfg.fever_c,
                 implausible_c=cfg.implausible_c)


def body_estimate(sample: TempSample, cfg: TemperatureSection) -> float:
    """Body-equivalent temperature of one sample.

    Body-mode modules report it themselves. For raw forehead (object) temperature we add the
    calibrated skin offset (forehead reads ~0.5 °C below axillary, Chen 2022) plus an ambient
    term: skin cools in cold air, so below ``ambient_ref_c`` each degree adds ``ambient_coeff``.
    """
    if sample.body_c is not None:
        return sample.body_c
    offset = cfg.skin_offset_c
    if sample.ambient_c is not None and sample.ambient_c < cfg.ambient_ref_c:
        offset += cfg.ambient_coeff * (cfg.ambient_ref_c - sample.ambient_c)
    return sample.object_c + offset


@dataclass
class MeasurementWindow:
    """Collects the samples of one measurement attempt."""

    cfg: TemperatureSection
    target_since: float | None = None
    samples: list[tuple[TempSample, float]] = field(default_factory=list)

    def reset(self) -> None:
        self.target_since = None
        self.samples.clear()

    def add(self, sample: TempSample) -> Reading | Unsteady | None:
        """Feed one sample; return a finished reading, an unsteady verdict, or None (need more)."""
        cfg = self.cfg
        body = body_estimate(sample, cfg)
        if body < cfg.no_target_c:
            self.reset()          # nobody there (or they stepped away): start over
            return None
        if self.target_since is None:
            self.target_since = sample.t
        if sample.t - self.target_since < cfg.settle_s:
            return None
        self.samples.append((sample, body))
        newest = sample.t
        self.samples[:] = [(s, b) for s, b in self.samples if newest - s.t <= cfg.window_s]
        if len(self.samples) < cfg.min_samples:
            return None
        bodies = [b for _, b in self.samples]
        spread = max(bodies) - min(bodies)
        if spread > cfg.max_spread_c:
            self.samples.clear()
            return Unsteady(spread_c=spread)
        value = statistics.median(bodies)
        ambients = [s.ambient_c for s, _ in self.samples if s.ambient_c is not None]
        objects = [s.object_c for s, _ in self.samples]
        reading = Reading(
            value_c=value,
            samples=len(bodies),
            spread_c=spread,
            ambient_c=statistics.median(ambients) if ambients else None,
            band=temperature_band(value, bands_of(cfg)),
            object_c=statistics.median(objects),
        )
        self.reset()
        return reading
