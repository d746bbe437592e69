"""Runs a mission: wires the camera, CPU, storage, radio, link and ground segment in one simpy environment.

``run_simulation`` is the public entry point (the CLI and trade studies call it). Fidelity:

- ``exact``: every distinct source frame is really encoded by ``flight/``; every packet sent is real bytes
  (relabelled per captured frame, :mod:`sim.coding`), damaged for real by bit errors, and every frame that
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim import metrics as metrics_mod
from sim.camera import camera_process
from sim.coding import Coder
from sim.cpu import CostModel, DutySchedule, cpu_worker, resolve_profile
from sim.faults import Faults
from sim.frames import FrameSource, make_source
from sim.groundseg import GroundSegment
from sim.link import Link
from sim.orbit import Contact, Geometry, compute_geometry
from sim.progress import ProgressBar
from sim.radio import DownlinkQueue, radio_process
from sim.records import DROPPED, FAILED, VERIFIED, FrameRecord, event_row
from sim.scenario import Scenario, ScenarioError
from sim.storage import PacketStore, RawBuffer

FIDELITIES = ("auto", "exact", "statistical")
EXACT_PACKET_BUDGET = 300_000  # ~600 MB of 2 KB packets: about a minute of real packets through flight/ground
DEFAULT_STATISTICAL_S = 30 * 86400.0
PLANNING_HORIZON_S = 3 * 86400.0


@dataclass
class Counters:
    """Mission-wide tallies (per-frame ones live in the FrameRecords)."""

    compressed: int = 0
    contacts_held: int = 0
    contacts_missed: int = 0
    contact_s: float = 0.0
    contact_missed_s: float = 0.0
    radio_busy_s: float = 0.0
    cpu_busy_s: float = 0.0
    packets_sent: int = 0
    packets_lost: int = 0
    packets_retransmitted: int = 0
    bytes_sent: int = 0
    parts_nakked: int = 0
    frames_resent_unheard: int = 0
    ground_rejections: int = 0
    uplink_reports: int = 0
    uplink_packets: int = 0
    uplink_bytes: int = 0
    verified: int = 0
    generated_bytes: int = 0
    delivered_raw_bytes: int = 0
    delivered_coded_bytes: int = 0


@dataclass(frozen=True)
class Airtime:
    """Per source frame, what the radio needs for every packet: length, seconds on air, chance of loss."""

    lengths: np.ndarray
    seconds: np.ndarray
    cum_seconds: np.ndarray
    p_lost: np.ndarray
    parts: np.ndarray


@dataclass
class SimResult:
    """What a run produced: ``metrics`` (the metrics.json dict), per-frame ``events``, the ``timeline`` of
    storage and data over time, and the contact windows as ``passes`` [(start, end) seconds]."""

    metrics: dict
    events: list[dict]
    timeline: dict[str, list[float]]
    passes: list[tuple[float, float]]
    contacts: list[dict] = field(default_factory=list)  # with station and whether it was missed
    eclipses: list[tuple[float, float]] = field(default_factory=list)
    scenario: dict = field(default_factory=dict)  # every resolved scenario value


class Mission:
    """All the state one run shares between its processes."""

    def __init__(self, scenario: Scenario, codec: str, duration_s: float, seed: int, exact: bool,
                 geometry: Geometry, source: FrameSource) -> None:
        self.scenario, self.codec_name, self.exact = scenario, codec, exact
        self.duration_s, self.seed = duration_s, seed
        self.fidelity = "exact" if exact else "statistical"
        self.env = simpy.Environment()
        self.geometry = geometry
        self.source = source
        self.coder = Coder(source, codec, scenario.codec, exact)
        self.link = Link(scenario.link, scenario.radio.framing_overhead, seed)
        self.bits_per_octet = 8.0 * (1.0 + scenario.radio.framing_overhead)
        self.ground = GroundSegment(exact, scenario.codec.idf_model or None)
        st = scenario.storage
        self.raw = RawBuffer(self.env, st.raw_capacity_bytes, st.policy, self.drop)
        self.store = PacketStore(self.env, st.capacity_bytes, st.policy, self.drop, self.release)
        self.queue = DownlinkQueue(scenario.radio.queue, scenario.radio.retransmit_first)
        self.queue_wakeup: simpy.Event | None = None
        self.profile = resolve_profile(scenario.cpu)
        self.duty = DutySchedule(self.profile.clock_hz, scenario.cpu.duty_cycle, scenario.cpu.eclipse_duty_cycle,
                                 geometry.eclipses)
        self.core_busy_since: list[float | None] = [None] * self.profile.cores
        self.core_frame: list[FrameRecord | None] = [None] * self.profile.cores
        self.core_state: list[str] = ["starting"] * self.profile.cores  # idle, coding, storing, rebooting
        self.core_procs: list[simpy.Process] = []
        self.faults = Faults(scenario.faults, seed)
        self.reboot_until = -math.inf  # the flight computer is rebooting until then (sim.faults)
        self.contact_outage_s: dict[int, float] = {}  # contact index -> seconds lost to outages
        self.records: list[FrameRecord] = []
        self.awaiting_ack: set[int] = set()
        self.missed_contacts: set[int] = set()
        self.count = Counters()
        self.timeline: list[tuple] = []
        self._costs: dict[int, CostModel] = {}
        self._airtime: dict[int, Airtime] = {}

    # -- transitions shared by the processes -------------------------------------------------------------
    def cost(self, source: int) -> CostModel:
        if source not in self._costs:
            self._costs[source] = CostModel(self.profile, self.coder.coded(source).ops_per_pixel)
        return self._costs[source]

    def airtime(self, source: int) -> Airtime:
        air = self._airtime.get(source)
        if air is None:
            lengths = self.coder.coded(source).packet_lengths
            seconds = lengths * self.bits_per_octet / self.scenario.radio.rate_bps
            air = self._airtime[source] = Airtime(lengths, seconds, np.cumsum(seconds),
                                                  self.link.loss_probability(lengths), np.arange(len(lengths)))
        return air

    def enqueue(self, rec: FrameRecord, urgent: bool = False) -> None:
        rec.start_sending()
        if rec.tx_count is None and self.scenario.link.max_transmissions:
            rec.tx_count = np.zeros(rec.n_packets, dtype=np.int32)
        self.queue.push(rec, urgent)
        if self.queue_wakeup is not None and not self.queue_wakeup.triggered:
            self.queue_wakeup.succeed()

    def verified(self, rec: FrameRecord) -> None:
        rec.state = VERIFIED
        rec.verified_s = self.env.now
        self.count.verified += 1
        self.count.delivered_raw_bytes += rec.raw_bytes
        self.count.delivered_coded_bytes += rec.coded_bytes
        self.awaiting_ack.discard(rec.frame_id)

    def release(self, rec: FrameRecord) -> None:
        """Acknowledged by the ground (or given up): delete its packets onboard."""
        self.store.remove(rec)
        self.raw.drop_copy(rec)
        rec.release_masks()
        self.coder.forget(rec.frame_id)
        self.faults.forget(rec.frame_id)
        self.awaiting_ack.discard(rec.frame_id)

    def drop(self, rec: FrameRecord, reason: str) -> None:
        self._end(rec, DROPPED, reason)

    def fail(self, rec: FrameRecord, reason: str) -> None:
        self._end(rec, FAILED, reason)

    def _end(self, rec: FrameRecord, state: str, reason: str) -> None:
        rec.state, rec.reason = state, reason
        self.ground.cancel(rec.frame_id)  # the spacecraft's cancel notice: stop NAKing it
        self.release(rec)

    def sample(self) -> None:
        """One timeline point (the monitor calls this on a grid; the radio at every AOS and LOS)."""
        c = self.count
        self.timeline.append((self.env.now, self.raw.used, self.store.used, c.generated_bytes, c.delivered_raw_bytes,
                              c.bytes_sent, len(self.records), c.verified))


def _monitor(m: Mission, step: float):
    while True:
        m.sample()
        yield m.env.timeout(step)


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
                   fidelity: str = "auto", progress: bool = False) -> SimResult:
    """Simulate ``scenario`` with ``codec`` for ``duration_s`` seconds (None: default) and return the result.

    Raises ``flight.errors.InputError`` (``ScenarioError``) for anything the user can fix: an unknown fidelity,
    a codec that is not available, unreadable frames, a negative seed.
    """
    wall0 = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScenarioError(f"seed must be an integer >= 0 (got {seed!r})")
    duration_s, fidelity, why = resolve_run(scenario, duration_s, fidelity)
    geometry = compute_geometry(scenario, duration_s)
    source = make_source(scenario)
    m = Mission(scenario, codec, duration_s, seed, fidelity == "exact", geometry, source)
    env = m.env
    env.process(camera_process(m))
    m.core_procs = [env.process(cpu_worker(m, core)) for core in range(m.profile.cores)]
    env.process(radio_process(m))
    m.faults.start(m)
    step = min(max(duration_s / 2000.0, 10.0), 3600.0)
    env.process(_monitor(m, step))
    bar = ProgressBar(duration_s, enabled=progress, label=f"{scenario.name} {codec} {fidelity}")
    for k in range(1, 201):
        env.run(until=duration_s * k / 200)
        bar.update(env.now)
    bar.close()
    m.sample()
    m.coder.save_table()
    metrics = metrics_mod.summarise(m, why, time.perf_counter() - wall0)
    return SimResult(
        metrics=metrics,
        events=[event_row(r) for r in m.records],
        timeline=metrics_mod.timeline_columns(m.timeline),
        passes=[(c.start, c.end) for c in geometry.contacts],
        contacts=_contact_rows(geometry.contacts, m.missed_contacts, m.contact_outage_s),
        eclipses=list(geometry.eclipses),
        scenario=scenario.to_dict(),
    )


def _contact_rows(contacts: list[Contact], missed: set[int], outage_s: dict[int, float]) -> list[dict[str, Any]]:
    return [{"start_s": c.start, "end_s": c.end, "station": c.station, "max_elevation_deg": c.max_elevation_deg,
             "missed": i in missed, "outage_s": round(outage_s.get(i, 0.0), 3)} for i, c in enumerate(contacts)]
