"""Energy and carbon estimate of a training run (Section 3.1 "Carbon Footprint", Appendix D).

Appendix D's recipe: add up the power draw of the GPUs and CPUs (W), multiply
by the run time in hours to get kWh (after dividing by 1000), and multiply by
a carbon intensity of 0.4 kgCO2e per kWh (a global average). No data-centre
overhead (PUE) is applied in the paper; ``pue`` defaults to 1.0 so the
numbers match, and can be raised (e.g. 1.1-1.6) for a fuller estimate.

The paper's own figures (:data:`srllm.paper.TRAINING_COSTS`: minutes, kWh and
kgCO2e of the QLoRA and prefix-tuning runs) follow from this recipe; the paper
does not state the wattage, which :func:`implied_power_watts` recovers from them
(the tests check both). The paper's numbers live only in :mod:`srllm.paper`;
this module reads them from there (:data:`PAPER_RUNS`) and holds no copy.
Note that the paper names the GPU as an A100 in Section 3.1 but an A40 in
Appendix D.

The estimate is only as good as the power figure given: nameplate TDP
overstates an average draw, and measured power (``nvidia-smi``) is better
where available.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from srllm.errors import SrllmError
from srllm.paper import CARBON_INTENSITY_KG_PER_KWH, TRAINING_COSTS

PAPER_INTENSITY_KG_PER_KWH = CARBON_INTENSITY_KG_PER_KWH  # Appendix D, from srllm.paper


@dataclass(frozen=True)
class PaperRun:
    """A training run's energy and emissions as the paper reports them."""

    method: str
    minutes: float
    energy_kwh: float
    kg_co2e: float


# The paper's reported runs, read from srllm.paper (the one home of the paper's numbers).
PAPER_RUNS = {c.method: PaperRun(c.method, c.minutes, c.kwh, c.kg_co2e) for c in TRAINING_COSTS}


@dataclass(frozen=True)
class CarbonEstimate:
    """Energy (kWh) and emissions (kgCO2e) of a run, with the power, hours, PUE and intensity they follow from."""

    power_watts: float
    hours: float
    pue: float
    energy_kwh: float
    intensity_kg_per_kwh: float
    kg_co2e: float


def _positive(name: str, value: float, allow_zero: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise SrllmError(f"{name} must be a number, got {value!r}") from exc
    if v != v or v < 0 or (v == 0 and not allow_zero):
        raise SrllmError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def energy_kwh(power_watts: float, hours: float, pue: float = 1.0) -> float:
    """kWh = W x h / 1000 x PUE (Appendix D, with PUE 1 as in the paper)."""
    return _positive("power_watts", power_watts) * _positive("hours", hours) / 1000.0 \
        * _positive("pue", pue, allow_zero=False)


def carbon_kg(kwh: float, intensity_kg_per_kwh: float = PAPER_INTENSITY_KG_PER_KWH) -> float:
    """kgCO2e = kWh x carbon intensity (0.4 kg/kWh in the paper)."""
    return _positive("energy_kwh", kwh) * _positive("intensity_kg_per_kwh", intensity_kg_per_kwh)


def estimate(power_watts: float, minutes: float, *, pue: float = 1.0,
             intensity_kg_per_kwh: float = PAPER_INTENSITY_KG_PER_KWH) -> CarbonEstimate:
    """Energy and emissions of a run drawing ``power_watts`` for ``minutes``."""
    hours = _positive("minutes", minutes) / 60.0
    kwh = energy_kwh(power_watts, hours, pue)
    return CarbonEstimate(power_watts=float(power_watts), hours=hours, pue=float(pue), energy_kwh=kwh,
                          intensity_kg_per_kwh=float(intensity_kg_per_kwh),
                          kg_co2e=carbon_kg(kwh, intensity_kg_per_kwh))


def implied_power_watts(kwh: float, minutes: float, pue: float = 1.0) -> float:
    """The average power that a reported energy over a run time implies (inverse of :func:`energy_kwh`)."""
    return _positive("energy_kwh", kwh) * 1000.0 / (_positive("minutes", minutes, allow_zero=False) / 60.0) \
        / _positive("pue", pue, allow_zero=False)


@dataclass
class RunTimer:
    """Times a block of work and estimates its footprint at a given power draw.

    ``with RunTimer(power_watts=300) as t: train(...)`` then ``t.estimate``.
    """

    power_watts: float
    pue: float = 1.0
    intensity_kg_per_kwh: float = PAPER_INTENSITY_KG_PER_KWH
    started: float = field(default=0.0, init=False)
    seconds: float = field(default=0.0, init=False)

    def __enter__(self) -> "RunTimer":
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started

    @property
    def estimate(self) -> CarbonEstimate:
        """The footprint of the timed block at the given power draw (Appendix D's recipe, :func:`estimate`)."""
        return estimate(self.power_watts, self.seconds / 60.0, pue=self.pue,
                        intensity_kg_per_kwh=self.intensity_kg_per_kwh)
