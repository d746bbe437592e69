"""The flight computer: how long compressing a frame takes, and the cores that do it.

Time per frame = (codec op counts per pixel x cycles per op of the flight CPU x pixels + checksum and packet
work) / (clock x duty cycle). The op counts come from the codec itself (``TileCodec.ops_per_pixel()``, counted
from its encoder loop in ``flight/``); the cycles per op are the assumptions below, stated per CPU because they
are estimates, not measurements on flight hardware:

Cortex-A72 at 1.5 GHz, 4 cores (Raspberry Pi CM4 class, ~5 W):
  - ``int_ops`` 0.5 cycle: 3-wide decode and two integer ALUs sustain ~2 simple ops/cycle on bit-packing loops;
  - ``mem_ops`` 1.0 cycle: one load and one store pipe, L1 hits;
  - ``macs`` 0.25 cycle: NEON int8/int16 multiply-accumulate, 2 x 128-bit pipes give 16 MAC/cycle at peak;
    we assume a quarter of that sustained (loads, widening, requantization);
  - ``lookups`` 2.0 cycles: dependent table loads (CDF tables, rANS state), L1 latency partly hidden;
  - frame checksums 11.5 cycles per raw byte: SHA-256 without the ARMv8 crypto extension (the CM4's BCM2711
    lacks it; ~150 MB/s with OpenSSL, ~10 cycles/byte) plus CRC-32 per tile (~1.5 cycles/byte, slice-by-8);
  - packets 3.5 cycles per packet byte: byte-wise table CRC-16 and the copy into packets.
Cortex-A9 at 766 MHz, 2 cores (Xilinx Zynq-7000, OPS-SAT heritage):
  - ``int_ops`` 1.0, ``mem_ops`` 1.0 (dual issue, one load/store unit), ``macs`` 1.0 (64-bit NEON datapath,
    4 x 16-bit MAC per cycle at peak, a quarter sustained), ``lookups`` 3.0;
  - frame checksums 20 cycles per raw byte (SHA-256 ~18, CRC-32 ~2), packets 5 cycles per byte.

The op counts are a typed ``flight.codecs.base.OpCounts``; an op kind a codec counts that a profile has no cost
for is reported in the metrics (``unknown_op_kinds``) so a codec's costs are never silently ignored.

A duty cycle is the share of each core's time given to compression: ``duty_cycle`` in sunlight and
``eclipse_duty_cycle`` in eclipse (on battery, the power budget allows less).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, fields

import simpy

from flight.codecs.base import OpCounts
from sim.mission.faults import Faults
from sim.mission.onboard import Onboard
from sim.mission.records import CODING, RAW, STORED, FrameRecord
from sim.scenario import CpuConfig


@dataclass(frozen=True)
class CpuProfile:
    """Cycles per operation kind for one flight CPU (see the module docstring for the reasons)."""

    name: str
    cores: int
    clock_hz: float
    cycles_per_op: dict[str, float] = field(default_factory=dict)
    frame_cycles_per_raw_byte: float = 0.0
    packet_cycles_per_byte: float = 0.0


PROFILES: dict[str, CpuProfile] = {
    "cortex-a72": CpuProfile("cortex-a72", 4, 1.5e9, {"int_ops": 0.5, "mem_ops": 1.0, "macs": 0.25, "lookups": 2.0},
                             11.5, 3.5),
    "cortex-a9": CpuProfile("cortex-a9", 2, 766e6, {"int_ops": 1.0, "mem_ops": 1.0, "macs": 1.0, "lookups": 3.0},
                            20.0, 5.0),
}


@dataclass(frozen=True)
class CostModel:
    """Cycles to compress one frame with one codec on one profile."""

    profile: CpuProfile
    ops_per_pixel: OpCounts

    @property
    def cycles_per_pixel(self) -> float:
        return sum(float(getattr(self.ops_per_pixel, k)) * c for k, c in self.profile.cycles_per_op.items())

    @property
    def unknown_op_kinds(self) -> list[str]:
        """Op kinds the codec counts (non-zero) that the profile has no cycle cost for (charged nothing)."""
        return sorted(f.name for f in fields(OpCounts)
                      if f.name not in self.profile.cycles_per_op and getattr(self.ops_per_pixel, f.name))

    def frame_cycles(self, pixels: int, raw_bytes: int, packet_bytes: int) -> float:
        p = self.profile
        return (pixels * self.cycles_per_pixel + raw_bytes * p.frame_cycles_per_raw_byte
                + packet_bytes * p.packet_cycles_per_byte)


def resolve_profile(cfg: CpuConfig) -> CpuProfile:
    """The scenario's profile with its cores and clock overridden where the scenario says so."""
    base = PROFILES[cfg.profile]
    return CpuProfile(base.name, cfg.cores or base.cores, cfg.clock_hz or base.clock_hz, dict(base.cycles_per_op),
                      base.frame_cycles_per_raw_byte, base.packet_cycles_per_byte)


class DutySchedule:
    """A core's compression speed over time: clock x duty cycle, lower in eclipse."""

    def __init__(self, clock_hz: float, duty: float, eclipse_duty: float, eclipses: list[tuple[float, float]]):
        self.sun_rate = clock_hz * duty
        self.eclipse_rate = clock_hz * eclipse_duty
        self.starts = [s for s, _ in eclipses]
        self.ends = [e for _, e in eclipses]

    def _segment(self, t: float) -> tuple[float, float]:
        """(cycles per second at t, time of the next change)."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and t < self.ends[i]:
            return self.eclipse_rate, self.ends[i]
        nxt = self.starts[i + 1] if i + 1 < len(self.starts) else math.inf
        return self.sun_rate, nxt

    def finish_time(self, start: float, cycles: float) -> float:
        """When a job of ``cycles`` started at ``start`` completes (inf if the rate stays zero)."""
        t = start
        while True:
            rate, boundary = self._segment(t)
            if rate > 0:
                need = cycles / rate
                if t + need <= boundary:
                    return t + need
                cycles -= (boundary - t) * rate
            if math.isinf(boundary):
                return math.inf
            t = boundary


class Cores:
    """The flight computer's cores: each takes raw frames in order from ``onboard``, compresses and stores them.

    Owns what the cores are doing (``state`` per core: starting, idle, coding, storing, rebooting; the frame
    and start time of each compression) and until when the computer reboots. :meth:`reset` is how
    :mod:`sim.mission.faults` reboots it.
    """

    def __init__(self, env: simpy.Environment, cfg: CpuConfig, keep_raw_until_ack: bool,
                 eclipses: list[tuple[float, float]], onboard: Onboard, faults: Faults) -> None:
        self.env, self.onboard, self.faults, self.keep_raw_until_ack = env, onboard, faults, keep_raw_until_ack
        self.profile = resolve_profile(cfg)
        self.duty = DutySchedule(self.profile.clock_hz, cfg.duty_cycle, cfg.eclipse_duty_cycle, eclipses)
        self.busy_since: list[float | None] = [None] * self.profile.cores
        self.frame: list[FrameRecord | None] = [None] * self.profile.cores
        self.state: list[str] = ["starting"] * self.profile.cores  # idle, coding, storing, rebooting
        self.procs: list[simpy.Process] = []
        self.reboot_until = -math.inf  # rebooting until then (a reset, sim.mission.faults)
        self._costs: dict[int, CostModel] = {}

    def start(self) -> None:
        """Start one simpy process per core."""
        self.procs = [self.env.process(self._worker(core)) for core in range(self.profile.cores)]

    def cost(self, source: int) -> CostModel:
        """The cost model of compressing source frame ``source`` (memoised)."""
        if source not in self._costs:
            self._costs[source] = CostModel(self.profile, self.onboard.coder.coded(source).ops_per_pixel)
        return self._costs[source]

    def busy_s(self, now: float) -> float:
        """Core-seconds spent compressing up to ``now``, compressions in progress included."""
        return self.onboard.count.cpu_busy_s + sum(now - t for t in self.busy_since if t is not None)

    def reset(self, reboot_s: float) -> tuple[float, bool]:
        """Reboot now for ``reboot_s`` seconds: interrupt the cores that are idle or compressing.

        Returns (seconds of reboot this adds beyond one already under way, whether a core was compressing).
        """
        now = self.env.now
        added_s = max(0.0, now + reboot_s - max(now, self.reboot_until))
        self.reboot_until = max(self.reboot_until, now + reboot_s)
        compressing = any(rec is not None for rec in self.frame)
        for core, proc in enumerate(self.procs):
            if self.state[core] in ("idle", "coding"):
                proc.interrupt("reset")
        return added_s, compressing

    def _worker(self, core: int):
        """simpy process: one core taking raw frames in order, compressing, storing the packets.

        A flight-computer reset (:mod:`sim.mission.faults`) interrupts a core that is waiting for a frame or
        compressing one; the frame goes back to the raw buffer and the core waits out the reboot. A core that
        has finished and waits for packet-store space is not interrupted (the result is already written out).
        """
        env, ob = self.env, self.onboard
        while True:
            rec = None
            start = env.now
            try:
                while env.now < self.reboot_until:
                    self.state[core] = "rebooting"
                    yield env.timeout(self.reboot_until - env.now)
                self.state[core] = "idle"
                rec = yield from ob.raw.get()
                self.state[core] = "coding"
                self.frame[core] = rec
                rec.state = CODING
                row = ob.coder.coded(rec.source)  # exact: the real encode happens here, once per source frame
                cycles = self.cost(rec.source).frame_cycles(row.pixels, row.raw_bytes, row.packet_bytes)
                start = env.now
                end = self.duty.finish_time(start, cycles)
                self.busy_since[core] = start
                yield env.timeout(end - start)  # math.inf never returns: the frame stays 'coding' (awaiting)
            except simpy.Interrupt:  # a reset: redo the frame after the reboot
                self.state[core] = "rebooting"
                self.busy_since[core] = self.frame[core] = None
                if rec is not None:
                    rec.state = RAW
                    ob.count.cpu_busy_s += env.now - start
                    self.faults.compression_lost(rec, env.now - start)
                    ob.raw.requeue(rec)
                continue
            self.state[core] = "storing"
            self.busy_since[core] = self.frame[core] = None
            ob.count.cpu_busy_s += end - start
            if self.keep_raw_until_ack:
                ob.raw.keep(rec)
            else:
                ob.raw.release(rec)
            rec.cpu_s = end - start
            rec.compressed_s = env.now
            rec.coded_bytes, rec.packet_bytes, rec.n_packets = row.coded_bytes, row.packet_bytes, row.n_packets
            ob.count.compressed += 1
            if (yield from ob.store.admit(rec)):
                rec.state = STORED
                ob.coder.assign_sequence(rec)
                ob.enqueue(rec)
