"""Carbon estimate (Section 3.1, Appendix D): the paper's own numbers follow from the recipe."""

from __future__ import annotations

import pytest

from srllm.errors import SrllmError
from srllm.metrics import carbon


@pytest.mark.parametrize("method", ["qlora", "prefix"])
def test_paper_energy_gives_paper_emissions(method):
    run = carbon.PAPER_RUNS[method]
    assert round(carbon.carbon_kg(run.energy_kwh), 2) == run.kg_co2e


def test_implied_power_reproduces_paper_energy():
    watts = {m: carbon.implied_power_watts(r.energy_kwh, r.minutes) for m, r in carbon.PAPER_RUNS.items()}
    assert watts["qlora"] == pytest.approx(636.0) and watts["prefix"] == pytest.approx(640.0)
    for m, r in carbon.PAPER_RUNS.items():
        est = carbon.estimate(watts[m], r.minutes)
        assert est.energy_kwh == pytest.approx(r.energy_kwh)
        assert round(est.kg_co2e, 2) == r.kg_co2e


def test_recipe_hand_case():
    power = 300 * 2 + 10 * 4  # two 300 W GPUs and four 10 W CPU cores
    est = carbon.estimate(power, 90, pue=1.5, intensity_kg_per_kwh=0.2)
    assert est.hours == 1.5
    assert est.energy_kwh == pytest.approx(640 * 1.5 / 1000 * 1.5)
    assert est.kg_co2e == pytest.approx(est.energy_kwh * 0.2)


def test_timer_and_errors():
    with carbon.RunTimer(power_watts=1000) as t:
        sum(range(1000))
    assert t.seconds > 0 and t.estimate.energy_kwh == pytest.approx(t.seconds / 3600.0)
    with pytest.raises(SrllmError, match="power_watts must be >= 0"):
        carbon.energy_kwh(-1, 1)
    with pytest.raises(SrllmError, match="pue must be > 0"):
        carbon.energy_kwh(100, 1, pue=0)
    with pytest.raises(SrllmError, match="minutes must be a number"):
        carbon.estimate(100, "ten")
