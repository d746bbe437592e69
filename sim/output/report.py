"""Outputs of a run: the terminal summary table and the files of ``--out DIR``.

``DIR/metrics.json`` (the metrics dict, with the resolved scenario), ``DIR/events.csv`` (one row per captured
frame: its times, sizes, packets and final state), ``DIR/timeline.csv`` (storage and cumulative data over time),
``DIR/contacts.csv`` and three plots: ``storage.png``, ``data.png``, ``latency.png``.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from pathlib import Path
from typing import Any

from sim.mission.records import CSV_FIELDS
from sim.output.labels import overrides_text
from sim.scenario import Scenario
from sim.tle import iso_utc, tle_epoch
from tools.files import staged_dir

#: SGP4 from a TLE: ~1 km at the epoch, growing by 1-3 km a day (Vallado et al. 2006, "Revisiting Spacetrack
#: Report #3", AIAA 2006-6753, section on accuracy). Beyond this many days the header warns.
TLE_FAR_DAYS = 14.0
ACCESS_BLOCK = 64  # contacts per access_geometry call (memory: ~64 x pass samples x stations, a few MB)


def write_outputs(result, out_dir: str | Path) -> list[Path]:
    """Write every output file of ``result`` into ``out_dir``; returns the paths written.

    The files are written in a temporary folder beside ``out_dir`` and moved there only once all of them are
    written (:func:`tools.files.staged_dir`), so a failure leaves no partial output.
    """
    out = Path(out_dir)
    names = ["metrics.json", "events.csv", "timeline.csv", "contacts.csv", "storage.png", "data.png", "latency.png"]
    with staged_dir(out) as tmp:
        (tmp / names[0]).write_text(metrics_json({**result.metrics, "scenario_config": result.scenario}) + "\n")
        _write_csv(tmp / names[1], CSV_FIELDS, result.events)
        cols = list(result.timeline)
        _write_csv(tmp / names[2], cols, [dict(zip(cols, row, strict=True))
                                          for row in zip(*result.timeline.values(), strict=True)])
        _write_csv(tmp / names[3], CONTACT_FIELDS, access_report(result))
        from sim.output import plots  # matplotlib only when plots are written

        plots.plot_storage(result, tmp / names[4])
        plots.plot_data(result, tmp / names[5])
        plots.plot_latency(result, tmp / names[6])
    return [out / name for name in names]


#: contacts.csv: the engine's contact rows (first six) and the access report's columns (STK-style).
CONTACT_FIELDS = ["start_s", "end_s", "station", "max_elevation_deg", "missed", "outage_s", "aos_utc", "los_utc",
                  "duration_s", "aos_azimuth_deg", "los_azimuth_deg", "min_range_km", "bytes_sent"]


def access_report(result: Any) -> list[dict]:
    """The rows of contacts.csv: each contact of the run (merged over stations, as the radio works them) with
    its UTC AOS and LOS (ISO 8601, ms), duration (s), azimuth at AOS and LOS (deg from north), highest
    elevation in the window (deg), minimum slant range (km) and the packet bytes sent in it (with framing and
    retransmissions, from the timeline's cumulative ``downlinked_bytes`` at AOS and LOS: 0 for a missed pass)."""
    from datetime import timedelta

    from sim.world.orbit import access_geometry

    scenario = Scenario.model_validate(result.scenario)
    rows = result.contacts
    spans = [(c["start_s"], c["end_s"], c["station"]) for c in rows]
    # In blocks of contacts: one call over a year of passes held ~1 GB of skyfield samples at once.
    geo = [g for k in range(0, len(spans), ACCESS_BLOCK) for g in access_geometry(scenario, spans[k:k + ACCESS_BLOCK])]
    t = result.timeline.get("t_s", [])
    sent = result.timeline.get("downlinked_bytes", [])

    def sent_by(time_s: float) -> float:
        i = bisect.bisect_right(t, time_s) - 1
        return sent[i] if i >= 0 else 0

    out = []
    for c, g in zip(rows, geo, strict=True):
        aos = scenario.start + timedelta(seconds=c["start_s"])
        los = scenario.start + timedelta(seconds=c["end_s"])
        out.append({**c, "aos_utc": _utc_ms(aos), "los_utc": _utc_ms(los),
                    "duration_s": round(c["end_s"] - c["start_s"], 3), **g,
                    "bytes_sent": int(sent_by(c["end_s"]) - sent_by(c["start_s"]))})
    return out


def _utc_ms(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def run_context(scenario: Scenario, duration_s: float) -> dict:
    """What a reader needs to know about how the run was set up, for metrics.json, the header and plot titles:
    ``description`` (the scenario's line plus every command-line change), ``overrides`` ({key: value}, the
    command line's changes in order) and, for a TLE orbit, ``tle`` {``epoch_utc``, ``start_offset_s``,
    ``end_offset_s``}: seconds from the TLE epoch to the run's start and end (negative: before the epoch)."""
    overrides = scenario.overrides
    text = scenario.description or scenario.name
    if overrides:
        text += " | " + overrides_text(overrides)
    out: dict = {"description": text, "overrides": overrides}
    if scenario.orbit.kind == "tle":
        epoch = tle_epoch(scenario.orbit.tle_line1)
        offset = (scenario.start - epoch).total_seconds()
        out["tle"] = {"epoch_utc": iso_utc(epoch), "start_offset_s": round(offset, 3),
                      "end_offset_s": round(offset + duration_s, 3)}
    return out


def _tle_line(tle: dict) -> str:
    a, b = tle["start_offset_s"] / 86400.0, tle["end_offset_s"] / 86400.0
    if abs(a) < 1e-6:
        where = f"the run starts at the TLE epoch {tle['epoch_utc']} and propagates {b:.2f} d after it"
    else:
        side = "after" if a > 0 else "before"
        where = (f"TLE epoch {tle['epoch_utc']}: the run propagates from {abs(a):.2f} d {side} it "
                 f"to {abs(b):.2f} d {'after' if b > 0 else 'before'} it")
    if max(abs(a), abs(b)) > TLE_FAR_DAYS:
        where += f" (WARNING: over {TLE_FAR_DAYS:g} d from the epoch; SGP4 errors grow 1-3 km a day)"
    return f"  {where}"


def metrics_json(metrics: dict) -> str:
    """The metrics as JSON text (NaN written as null)."""
    return json.dumps(_clean(metrics), indent=2)


def _clean(value):
    """JSON without NaN (not valid JSON): NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _write_csv(path: Path, fields, rows) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.2f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def format_summary(metrics: dict) -> str:
    """The summary table printed on the terminal."""
    m = metrics
    f = m["frames"]
    where = f["awaiting_where"]
    lat = m["latency_s"]
    c = m["contacts"]
    link = m["link"]
    cpu = m["cpu"]
    spf = cpu["seconds_per_frame_sunlit"]
    mean_spf = sum(spf.values()) / len(spf) if spf else 0.0
    ratio = m["compression_ratio"]
    lines = [
        f"astroflight mission: {m['scenario']} | codec {m['codec']} | {m['fidelity']} | "
        f"{_dur(m['duration_s'])} from {m['start_utc']} | seed {m['seed']}",
    ]
    if m.get("overrides"):
        lines.append(f"  changed: {overrides_text(m['overrides'])}")
    if m.get("tle"):
        lines.append(_tle_line(m["tle"]))
    if m.get("run_note"):
        lines.append(f"  ({m['run_note']})")
    if m["fidelity"] == "statistical":
        lines.append("  STATISTICAL: sizes and CPU times from the calibration table; packets counted, not built")
    rows = [
        ("frames captured", f"{f['captured']}", ""),
        ("  compressed", f"{f['compressed']}", ""),
        ("  downlinked", f"{f['downlinked']}", "every packet sent at least once"),
        ("  verified", f"{f['verified']}",
         "bit-exact by ground/" if m["fidelity"] == "exact" else "complete on the ground"),
        ("  awaiting", f"{f['awaiting']}",
         f"raw buffer {where['raw_buffer']}, coding {where['coding']}, packet store {where['packet_store']}"),
        ("  dropped", f"{sum(f['dropped'].values())}", _reasons(f["dropped"])),
        ("  failed", f"{sum(f['failed'].values())}", _reasons(f["failed"])),
        ("compression ratio", f"{ratio:.3f}" if ratio else "-",
         f"{m['link_ratio']:.3f} with packet overhead" if m["link_ratio"] else ""),
        ("storage peak", _bytes(m["storage_peak_bytes"]),
         f"packet store {_bytes(m['packet_store_peak_bytes'])} of {_bytes(m['packet_store_capacity_bytes'])}, "
         f"raw buffer {_bytes(m['raw_buffer_peak_bytes'])}"),
        ("CPU utilisation", f"{100 * m['cpu_utilisation']:.2f} %",
         f"{cpu['profile']} x{cpu['cores']} at {cpu['clock_hz'] / 1e9:.2f} GHz, {mean_spf:.2f} s/frame in sunlight"),
        ("contacts", f"{c['held']} of {c['scheduled']}",
         f"{c['held_s'] / 60:.1f} min held, {c['used_s'] / 60:.1f} min used, {c['missed']} missed"),
        ("packets", f"{link['packets_sent']}",
         f"{100 * link['loss_rate']:.2f} % lost, {link['packets_retransmitted']} retransmitted"),
        ("latency p50 / p95", f"{_dur(lat['p50'])} / {_dur(lat['p95'])}", "capture to verified on ground"),
        ("data delivered", _bytes(m["data"]["delivered_raw_bytes"]),
         f"of {_bytes(m['data']['generated_raw_bytes'])} generated (raw equivalent), "
         f"{m['data']['verified_per_day']:.1f} frames/day"),
    ]
    rows += _fault_rows(m.get("faults") or {}, m["fidelity"])
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    for label, value, note in rows:
        lines.append(f"  {label:<{width}}  {value:>{vwidth}}  {note}".rstrip())
    if not m["conservation_ok"]:
        lines.append("  WARNING: frame accounting does not add up (captured != verified+awaiting+dropped+failed)")
    return "\n".join(lines)


def _fault_rows(f: dict, fidelity: str) -> list[tuple[str, str, str]]:
    """Summary rows for the faults that were injected (none when the scenario injects none)."""
    cfg = f.get("config") or {}
    rows = []
    if cfg.get("reset_rate_per_day"):
        rows.append(("resets", f"{f['resets']}",
                     f"{f['resets_during_compression']} during compression, {f['frames_recompressed']} frames "
                     f"compressed again, {_dur(f['reboot_s'])} rebooting"))
    if cfg.get("storage_upsets_per_bit_day"):
        caught = "dropped by the ground's CRC-16" if fidelity == "exact" else "counted not received"
        rows.append(("storage upsets", f"{f['storage_upsets']}",
                     f"{f['corrupt_packets_sent']} corrupt packets sent ({caught}), {f['packets_regenerated']} "
                     f"regenerated from raw, {f['frames_failed_storage_corruption']} frames failed"))
    if cfg.get("outages"):
        rows.append(("outages", f"{len(cfg['outages'])}",
                     f"{f['outage_contacts_lost']} contacts lost, {f['outage_contacts_cut']} cut, "
                     f"{_dur(f['outage_contact_s'])} of contact time"))
    return rows


def _reasons(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())
