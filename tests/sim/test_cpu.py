"""CPU budget: op counts x cycles per op, duty cycles across eclipse boundaries."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from flight.codecs.base import OpCounts
from sim.mission.cpu import PROFILES, CostModel, DutySchedule, resolve_profile
from sim.scenario import load_scenario


def test_finish_time_follows_the_duty_schedule():
    d = DutySchedule(clock_hz=100.0, duty=1.0, eclipse_duty=0.5, eclipses=[(10.0, 20.0), (30.0, 40.0)])
    assert d.finish_time(0.0, 500.0) == pytest.approx(5.0)
    # 1000 cycles in sunlight to t=10, then 50 cycles/s in eclipse
    assert d.finish_time(0.0, 1500.0) == pytest.approx(20.0)
    assert d.finish_time(0.0, 2000.0) == pytest.approx(25.0)
    assert d.finish_time(15.0, 250.0) == pytest.approx(20.0)
    assert d.finish_time(35.0, 250.0) == pytest.approx(40.0)
    stalled = DutySchedule(100.0, 1.0, 0.0, [(0.0, 50.0)])
    assert stalled.finish_time(0.0, 100.0) == pytest.approx(51.0)
    assert DutySchedule(100.0, 1.0, 0.0, [(0.0, math.inf)]).finish_time(0.0, 1.0) == math.inf


def test_cost_model_charges_known_op_kinds_once():
    a72 = PROFILES["cortex-a72"]
    ops = OpCounts(int_ops=10.0, mem_ops=4.0, macs=100.0, lookups=2.0)
    model = CostModel(a72, ops)
    assert model.cycles_per_pixel == pytest.approx(10 * 0.5 + 4 * 1.0 + 100 * 0.25 + 2 * 2.0)
    assert model.unknown_op_kinds == []
    no_lookups = replace(a72, cycles_per_op={k: v for k, v in a72.cycles_per_op.items() if k != "lookups"})
    assert CostModel(no_lookups, ops).unknown_op_kinds == ["lookups"]
    cycles = model.frame_cycles(pixels=1000, raw_bytes=2000, packet_bytes=900)
    assert cycles == pytest.approx(1000 * 38 + 2000 * 11.5 + 900 * 3.5)


def test_profile_defaults_and_overrides():
    a9 = resolve_profile(load_scenario("leo", {"cpu.profile": "cortex-a9"}).cpu)
    assert (a9.cores, a9.clock_hz) == (2, 766e6)
    fast = resolve_profile(load_scenario("leo", {"cpu.cores": 8, "cpu.clock_hz": 2e9}).cpu)
    assert (fast.cores, fast.clock_hz, fast.name) == (8, 2e9, "cortex-a72")
