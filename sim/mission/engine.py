"""Runs a mission: builds the parts (storage, queue, coder, link, ground segment, faults) in one simpy
environment and hands them to the processes (camera, CPU cores, radio, fault processes).

``run_simulation`` is the public entry point (the CLI and trade studies call it). Fidelity:

- ``exact``: every distinct source frame is really encoded by ``flight/``; every packet sent is real bytes
  (relabelled per captured frame, :mod:`sim.mission.coding`), damaged for real by bit errors, and every frame that
  reaches the ground complete is really reassembled, decoded and checked bit-exact by ``ground/``;
- ``statistical``: the same processes and the same random draws, but packets are counted, not built: sizes and
  CPU costs come from the calibration table (real encodes of the same frames, cached on disk);
- ``auto`` (default): exact when the contacts in the run can carry at most ``EXACT_PACKET_BUDGET`` packets
  (a few passes), statistical otherwise; the reason is reported.

Without a duration the run ends with the second contact (enough for a NAK to be answered), or after 30 days in
statistical fidelity.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.mission import metrics as metrics_mod
from sim.mission.camera import camera_process
from sim.mission.coding import Coder
from sim.mission.cpu import Cores
from sim.mission.faults import Faults
from sim.mission.groundseg import GroundSegment
from sim.mission.link import Link
from sim.mission.onboard import Onboard
from sim.mission.progress import make_progress
from sim.mission.radio import Radio
from sim.mission.records import EventLog
from sim.scenario import Scenario, ScenarioError
from sim.world.orbit import Contact, compute_geometry
from sim.world.sources import make_source

FIDELITIES = ("auto", "exact", "statistical")
EXACT_PACKET_BUDGET = 300_000  # ~600 MB of 2 KB packets: about a minute of real packets through flight/ground
DEFAULT_STATISTICAL_S = 30 * 86400.0
PLANNING_HORIZON_S = 3 * 86400.0


@dataclass
class SimResult:
    """What a run produced: ``metrics`` (the metrics.json dict), per-frame ``events``, the ``timeline`` of
    storage and data over time, and the contact windows as ``passes`` [(start, end) seconds]. ``events`` is
    an :class:`~sim.mission.records.EventLog` (rows spooled to a temporary file; iterate it, take ``len``)."""

    metrics: dict
    events: EventLog | list[dict]  # iterable of events.csv rows (dicts), in capture order
    timeline: dict[str, list[float]]
    passes: list[tuple[float, float]]
    contacts: list[dict] = field(default_factory=list)  # with station and whether it was missed
    eclipses: list[tuple[float, float]] = field(default_factory=list)
    scenario: dict = field(default_factory=dict)  # every resolved scenario value


class Timeline:
    """Samples of storage and data over time: (t_s, raw buffer, packet store, generated, delivered, sent,
    captured, verified), bytes and counts (columns ``sim.mission.metrics.TIMELINE_COLUMNS``)."""

    def __init__(self, env: simpy.Environment, onboard: Onboard) -> None:
        self.env, self.onboard = env, onboard
        self.rows: list[tuple] = []

    def sample(self) -> None:
        """One timeline point (the monitor calls this on a grid; the radio at every AOS and LOS)."""
        ob, c = self.onboard, self.onboard.count
        self.rows.append((self.env.now, ob.raw.used, ob.store.used, c.generated_bytes, c.delivered_raw_bytes,
                          c.bytes_sent, ob.captured, c.verified))

    def monitor(self, step: float) -> Generator[simpy.Event, Any, None]:
        """simpy process: a sample every ``step`` seconds."""
        while True:
            self.sample()
            yield self.env.timeout(step)


def resolve_run(scenario: Scenario, duration_s: float | None, fidelity: str) -> tuple[float, str, str]:
    """(duration, fidelity, why) for a request where either may be left to the defaults."""
    if fidelity not in FIDELITIES:
        raise ScenarioError(f"fidelity must be one of {', '.join(FIDELITIES)} (got {fidelity!r})")
    why = ""
    if duration_s is None:
        if fidelity == "statistical":
            duration_s, why = DEFAULT_STATISTICAL_S, "default duration 30 d"
        else:
            plan = compute_geometry(scenario, PLANNING_HORIZON_S).contacts
            if len(plan) >= 2:
                duration_s = math.ceil(plan[1].end + 60.0)
                why = "default duration: to the end of the second contact"
            else:
                duration_s, why = PLANNING_HORIZON_S, "default duration: 3 d (fewer than two contacts in 3 d)"
    if fidelity == "auto":
        packets = contact_packets(scenario, duration_s)
        fidelity = "exact" if packets <= EXACT_PACKET_BUDGET else "statistical"
        note = (f"auto: contacts carry ~{packets:,.0f} packets, "
                f"{'within' if fidelity == 'exact' else 'over'} the exact budget of {EXACT_PACKET_BUDGET:,}")
        why = f"{why}; {note}" if why else note
    return float(duration_s), fidelity, why


def contact_packets(scenario: Scenario, duration_s: float) -> float:
    """How many full-size packets the run's contacts could carry (what exact fidelity might have to build)."""
    contacts = compute_geometry(scenario, duration_s).contacts
    return sum(c.duration for c in contacts) * scenario.radio.rate_bps / 8 / scenario.codec.packet_size


def run_simulation(scenario: Scenario, codec: str, duration_s: float | None = None, seed: int = 0,
                   fidelity: str = "auto", progress: bool | str = False) -> SimResult:
    """Simulate ``scenario`` with ``codec`` for ``duration_s`` seconds (None: default) and return the result.

    Raises ``flight.errors.InputError`` (``ScenarioError``) for anything the user can fix: an unknown fidelity,
    a codec that is not available, unreadable frames, a negative seed. ``progress``: a mode of
    :data:`sim.mission.progress.MODES` ("off", "bar", "lines"), or True for "bar" and False for "off".
    """
    wall0 = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScenarioError(f"seed must be an integer >= 0 (got {seed!r})")
    duration_s, fidelity, why = resolve_run(scenario, duration_s, fidelity)
    exact = fidelity == "exact"
    geometry = compute_geometry(scenario, duration_s)
    source = make_source(scenario)
    env = simpy.Environment()
    mode = ("bar" if progress else "off") if isinstance(progress, bool) else progress
    bar = make_progress(mode, duration_s, label=f"{scenario.name} {codec} {fidelity}")
    coder = Coder(source, codec, scenario.codec, exact, on_calibration=bar.calibrating)
    link = Link(scenario.link, scenario.radio.framing_overhead, seed)
    ground = GroundSegment(exact, scenario.codec.idf_model or None)
    faults = Faults(scenario.faults, seed)
    onboard = Onboard(env, scenario, coder, ground, faults)
    cores = Cores(env, scenario.cpu, scenario.storage.keep_raw_until_ack, geometry.eclipses, onboard, faults)
    timeline = Timeline(env, onboard)
    radio = Radio(env, scenario, geometry.contacts, link, onboard, faults, exact, timeline.sample)
    env.process(camera_process(env, scenario.camera, geometry, source, onboard))
    cores.start()
    env.process(radio.process())
    faults.start(env, cores.reset, onboard.store, lambda src: radio.airtime(src).lengths)
    step = min(max(duration_s / 2000.0, 10.0), 3600.0)
    env.process(timeline.monitor(step))
    for k in range(1, 201):
        env.run(until=duration_s * k / 200)
        bar.update(env.now)
        onboard.retire()
    bar.close()
    timeline.sample()
    onboard.finish()
    coder.save_table()
    metrics = metrics_mod.summarise(scenario=scenario, codec=codec, seed=seed, duration_s=duration_s, exact=exact,
                                    geometry=geometry, onboard=onboard, cores=cores, faults=faults, now=env.now,
                                    why=why, wall_s=time.perf_counter() - wall0)
    metrics["warnings"] = metrics_mod.steady_state_warnings(timeline.rows, onboard.store.capacity, env.now)
    return SimResult(
        metrics=metrics,
        events=onboard.log,
        timeline=metrics_mod.timeline_columns(timeline.rows),
        passes=[(c.start, c.end) for c in geometry.contacts],
        contacts=_contact_rows(geometry.contacts, radio.missed_contacts, radio.contact_outage_s),
        eclipses=list(geometry.eclipses),
        scenario=scenario.to_dict(),
    )


def _contact_rows(contacts: list[Contact], missed: set[int], outage_s: dict[int, float]) -> list[dict[str, Any]]:
    return [{"start_s": c.start, "end_s": c.end, "station": c.station, "max_elevation_deg": c.max_elevation_deg,
             "missed": i in missed, "outage_s": round(outage_s.get(i, 0.0), 3)} for i, c in enumerate(contacts)]
