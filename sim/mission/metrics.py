"""The numbers a mission engineer reads: frame accounting, ratio, latency, storage, CPU, contacts, link.

Every frame is counted in exactly one state (``captured == verified + awaiting + sum(dropped) + sum(failed)``);
``conservation_ok`` says whether that holds, and the tests insist it always does. Definitions:

- ``compressed``: frames whose compression finished (some may then be dropped for want of packet storage);
- ``downlinked``: frames whose every packet has been sent at least once (not necessarily received);
- ``verified``: frames the ground rebuilt and checked (exact: bit-exact by ``ground/``);
- ``awaiting``: frames still onboard (raw buffer, being coded, or in the packet store not yet verified);
- ``compression_ratio``: raw bytes / coded bytes (frame container: header, tile headers, payloads) over all
  compressed frames; ``link_ratio`` the same with CCSDS packet overhead included;
- ``latency_s``: from capture to verified on the ground;
- ``cpu_utilisation``: core-seconds spent compressing / (cores x duration).
"""

from __future__ import annotations

import numpy as np

from sim.mission.cpu import Cores
from sim.mission.faults import Faults
from sim.mission.onboard import Onboard
from sim.mission.records import AWAITING_STATES, CODING, RAW, STORED, VERIFIED
from sim.scenario import Scenario
from sim.world.orbit import Geometry

TIMELINE_COLUMNS = ("t_s", "raw_buffer_bytes", "packet_store_bytes", "generated_bytes", "delivered_bytes",
                    "downlinked_bytes", "captured", "verified")


def timeline_columns(rows: list[tuple]) -> dict[str, list[float]]:
    """Timeline samples as columns, in time order."""
    rows = sorted(rows, key=lambda r: r[0])
    return {name: [r[i] for r in rows] for i, name in enumerate(TIMELINE_COLUMNS)}


#: Storage counts as still filling when the packet store rose by more than this fraction of its capacity per day
#: over the last ``STEADY_WINDOW_DAYS`` (least-squares slope of the timeline's ``packet_store_bytes``). 1 %/day:
#: the store would fill in under 100 days at that rate, so a headline frames/day taken now is not the long-run one.
FILLING_RATE_PER_DAY = 0.01
STEADY_WINDOW_DAYS = 3.0  # the last days looked at (half the run when it is shorter than twice this)


def storage_fill_rate(rows: list[tuple], capacity_bytes: float, end_s: float) -> float:
    """Packet-store fill rate at the end of a run, as a fraction of ``capacity_bytes`` per day (float, may be
    negative): the least-squares slope of ``packet_store_bytes`` (column 2 of the timeline ``rows``, time in
    column 0, s) over the last ``min(STEADY_WINDOW_DAYS, end_s / 2)``. 0.0 with fewer than two samples there."""
    window = min(STEADY_WINDOW_DAYS * 86400.0, end_s / 2.0)
    pts = np.array([(r[0], r[2]) for r in rows if r[0] >= end_s - window], dtype=float).reshape(-1, 2)
    if len(pts) < 2 or np.ptp(pts[:, 0]) == 0 or capacity_bytes <= 0:
        return 0.0
    slope = np.polyfit(pts[:, 0], pts[:, 1], 1)[0]  # bytes per second
    return float(slope * 86400.0 / capacity_bytes)


def steady_state_warnings(rows: list[tuple], capacity_bytes: float, end_s: float) -> list[str]:
    """One-line warnings about a run that ended before storage reached steady state (empty list: none)."""
    rate = storage_fill_rate(rows, capacity_bytes, end_s)
    if rate <= FILLING_RATE_PER_DAY:
        return []
    days = min(STEADY_WINDOW_DAYS, end_s / 2.0 / 86400.0)
    return [f"storage not in steady state: the packet store was still filling at {100 * rate:.1f} % of capacity "
            f"per day over the last {days:.2g} d (threshold {100 * FILLING_RATE_PER_DAY:g} %/d); frames/day and "
            "latency may not hold for a longer run"]


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summarise(*, scenario: Scenario, codec: str, seed: int, duration_s: float, exact: bool, geometry: Geometry,
              onboard: Onboard, cores: Cores, faults: Faults, now: float, why: str, wall_s: float) -> dict:
    """The metrics.json dict of a run of ``scenario`` with ``codec`` that ended at ``now`` (s); ``why`` says how
    its duration and fidelity were chosen, ``wall_s`` is the wall-clock seconds it took."""
    s, c, tally = scenario, onboard.count, onboard.log.tally
    if onboard.live:
        raise RuntimeError("summarise() needs onboard.finish() first (frames still live)")
    store, raw, coder, profile = onboard.store, onboard.raw, onboard.coder, cores.profile
    states = tally.states
    dropped = dict(sorted(tally.dropped.items()))
    failed = dict(sorted(tally.failed.items()))
    awaiting = sum(states[k] for k in AWAITING_STATES)
    captured = tally.captured
    verified = states[VERIFIED]
    raw_c, coded_c, packet_c = tally.raw_c, tally.coded_c, tally.packet_c
    latencies = tally.latencies()
    days = duration_s / 86400.0
    busy = cores.busy_s(now)
    contacts = geometry.contacts
    per_station: dict[str, dict] = {}
    for p in geometry.passes:
        row = per_station.setdefault(p.station, {"passes": 0, "minutes": 0.0})
        row["passes"] += 1
        row["minutes"] += p.duration / 60.0
    for row in per_station.values():
        row["passes_per_day"] = round(row["passes"] / days, 3)
        row["minutes_per_day"] = round(row["minutes"] / days, 2)
        row["minutes"] = round(row["minutes"], 2)
    scheduled_s = sum(x.duration for x in contacts)
    table = coder.table()
    out = {
        "scenario": s.name,
        "codec": codec,
        "codecs_ran": sorted({row.codec for row in table}),
        "fidelity": "exact" if exact else "statistical",
        "fidelity_note": _fidelity_note(exact),
        "run_note": why,
        "seed": seed,
        "duration_s": duration_s,
        "start_utc": s.orbit.epoch,
        "frames": {
            "captured": captured,
            "compressed": c.compressed,
            "downlinked": tally.downlinked,
            "verified": verified,
            "awaiting": awaiting,
            "awaiting_where": {"raw_buffer": states[RAW], "coding": states[CODING], "packet_store": states[STORED]},
            "dropped": dropped,
            "failed": failed,
            "skipped_captures": raw.skipped_captures,
        },
        "conservation_ok": captured == verified + awaiting + sum(dropped.values()) + sum(failed.values()),
        "compression_ratio": round(raw_c / coded_c, 4) if coded_c else None,
        "link_ratio": round(raw_c / packet_c, 4) if packet_c else None,
        "latency_s": {"p50": _pct(latencies, 50), "p95": _pct(latencies, 95),
                      "mean": float(np.mean(latencies)) if latencies else None,
                      "max": float(np.max(latencies)) if latencies else None, "n": len(latencies)},
        "storage_peak_bytes": store.peak + raw.peak,
        "packet_store_peak_bytes": store.peak,
        "raw_buffer_peak_bytes": raw.peak,
        "packet_store_capacity_bytes": store.capacity,
        "packet_store_end_bytes": store.used,
        "packet_store_evicted_verified": store.evicted_verified,
        "cpu_utilisation": round(busy / (profile.cores * duration_s), 6),
        "cpu": {
            "profile": profile.name, "cores": profile.cores, "clock_hz": profile.clock_hz,
            "cycles_per_pixel": {row.name: round(cores.cost(row.index).cycles_per_pixel, 3) for row in table},
            "seconds_per_frame_sunlit": {
                row.name: round(cores.cost(row.index).frame_cycles(row.pixels, row.raw_bytes, row.packet_bytes)
                                / (profile.clock_hz * s.cpu.duty_cycle), 4) for row in table},
            "unknown_op_kinds": sorted({k for row in table for k in cores.cost(row.index).unknown_op_kinds}),
        },
        "contacts": {
            "scheduled": len(contacts), "held": c.contacts_held, "missed": c.contacts_missed,
            "scheduled_s": round(scheduled_s, 3), "held_s": round(c.contact_s, 3),
            "used_s": round(c.radio_busy_s, 3), "minutes_per_day": round(scheduled_s / 60.0 / days, 3),
            "per_station": per_station,
        },
        "eclipse_fraction": round(geometry.eclipse_fraction(), 4),
        "link": {
            "packets_sent": c.packets_sent, "packets_lost": c.packets_lost,
            "packets_retransmitted": c.packets_retransmitted, "bytes_sent": c.bytes_sent,
            "loss_rate": round(c.packets_lost / c.packets_sent, 6) if c.packets_sent else 0.0,
            "parts_nakked": c.parts_nakked, "frames_resent_unheard": c.frames_resent_unheard,
            "ground_rejections": c.ground_rejections, "uplink_reports": c.uplink_reports,
            "uplink_packets": c.uplink_packets, "uplink_bytes": c.uplink_bytes,
        },
        "data": {
            "generated_raw_bytes": c.generated_bytes, "delivered_raw_bytes": c.delivered_raw_bytes,
            "delivered_coded_bytes": c.delivered_coded_bytes,
            "verified_per_day": round(verified / days, 3), "captured_per_day": round(captured / days, 3),
        },
        "faults": _faults(faults, onboard, s.storage.keep_raw_until_ack),
        "calibration": {"cached": coder.cache_hit, "rows": [row.summary() for row in table]},
        "wall_s": round(wall_s, 3),
    }
    if exact:
        g = onboard.ground
        decodes, decode_hits = g.reassembler.decode_counts()
        out["exact"] = {
            "distinct_encodes": coder.distinct_encodes, "packets_built": coder.packets_built,
            "ground_packets_received": g.packets_received, "ground_packets_rejected": g.packets_rejected,
            "frames_decoded": g.frames_decoded, "frames_rejected": g.frames_rejected,
            "tile_encodes_computed": coder.codec.encoded.computed, "tile_encodes_memoised": coder.codec.encoded.hits,
            "tile_decodes_computed": decodes, "tile_decodes_memoised": decode_hits,
        }
    return out


def _faults(faults: Faults, onboard: Onboard, keep_raw_until_ack: bool) -> dict:
    """What the injected faults did (``sim.mission.faults``), with the raw-copy policy that decides regeneration."""
    faults.count.raw_copies_freed_for_space = onboard.raw.copies_freed
    out = faults.metrics()
    out["config"]["keep_raw_until_ack"] = keep_raw_until_ack
    out["raw_copies_onboard_at_end"] = len(onboard.raw.copies)
    return out


def _fidelity_note(exact: bool) -> str:
    if exact:
        return ("exact: each distinct source frame encoded by flight/ once, every packet sent built for real "
                "(frame id relabelled), every complete frame reassembled, decoded and verified by ground/")
    return ("statistical: sizes and CPU cost from the calibration table (real encodes of the same source frames); "
            "packets counted, not built; complete frames counted as verified")
