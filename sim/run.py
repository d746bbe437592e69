"""``python -m sim.run``: simulate a mission and print how much science comes home, per codec.

Exit codes: 0 done; 1 the frame accounting did not add up (a bug: please report); 2 a usage or scenario
error (one line on stderr naming the key, path or flag).
"""

from __future__ import annotations

import argparse
import sys

from flight.codecs.registry import CODEC_CHOICES
from sim.mission.engine import EXACT_PACKET_BUDGET, FIDELITIES, contact_packets, resolve_run, run_simulation
from sim.output.report import format_summary, metrics_json, run_context, write_outputs
from sim.scenario import load_scenario, parse_duration, parse_overrides, shipped_scenarios
from sim.tle import TleError, read_tle_file
from tools.cli import OneLineParser, run_cli
from tools.files import check_writable

EXAMPLES = """examples:
  python -m sim.run --orbit leo --codec idf
  python -m sim.run --orbit leo --codec rice --duration 30d --out out/leo-rice
  python -m sim.run --orbit leo-svalbard --codec raw --set radio.rate_bps=4.3e6 --set link.packet_loss=0.05
  python -m sim.run --scenario my_mission.toml --codec rice --fidelity statistical --duration 7d --seed 3
  python -m sim.run --tle sat.tle --station Kiruna=67.86,20.96,390,5 --duration 2d

Scenario keys, units and defaults: docs/simulator.md."""


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m sim.run", description=__doc__.splitlines()[0].split(": ", 1)[1],
                      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--orbit", metavar="NAME", default=None,
                       help=f"a shipped scenario: {', '.join(shipped_scenarios())} (default: leo)")
    where.add_argument("--scenario", metavar="FILE", help="a scenario TOML file (see docs/simulator.md)")
    p.add_argument("--tle", metavar="FILE", help="fly the orbit of this two- or three-line TLE file (checksums "
                                                  "verified); the run starts at its epoch unless --start is given")
    p.add_argument("--start", metavar="UTC", help="start time, ISO 8601 UTC, e.g. 2026-01-15T00:00:00Z "
                                                  "(the same as --set orbit.epoch=...)")
    p.add_argument("--stations", metavar="FILE", help="ground stations from a TOML ([[stations]]) or CSV "
                                                      "(name,lat_deg,lon_deg,alt_m[,min_elevation_deg]) file: "
                                                      "they replace the scenario's")
    p.add_argument("--station", dest="add_stations", action="append", default=[], metavar="NAME=LAT,LON,ALT[,MASK]",
                   help="add a ground station (deg, deg east, m, mask deg; default mask 10), repeatable; one "
                        "with the name of an existing station replaces it")
    p.add_argument("--codec", choices=CODEC_CHOICES, default="rice", help="onboard codec (default: rice)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario number, e.g. --set radio.rate_bps=4e6 (repeatable)")
    p.add_argument("--duration", metavar="D",
                   help="simulated time, e.g. 6h, 30d, 90min (default: to the end of the second contact; "
                        "30d in statistical fidelity)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the link's and faults' random draws (default: 0)")
    p.add_argument("--fidelity", choices=FIDELITIES, default="auto",
                   help="exact: real encode, packets and ground decode; statistical: calibration table; "
                        "auto (default): exact when the run's contacts carry few enough packets")
    p.add_argument("--out", metavar="DIR", help="write metrics.json, events.csv, timeline.csv, contacts.csv "
                                                "and PNG plots here")
    p.add_argument("--json", action="store_true", help="print metrics.json to stdout instead of the table")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: a bar when stderr is a terminal, plain progress lines "
                          "otherwise)")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="print no progress at all")
    return p


def _seed(text: str) -> int:
    """A seed: an integer >= 0 (numpy's seed sequences refuse negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (got {text!r})")
    return value


def run(argv: list[str] | None = None) -> int:
    """Every input is checked (scenario, frames, --out) before the simulation starts; outputs appear whole."""
    args = build_parser().parse_args(argv)
    overrides = parse_overrides(args.overrides)
    if args.tle:
        try:
            read_tle_file(args.tle)  # checked here so that a bad file is blamed on --tle, not on --set
        except TleError as exc:
            raise TleError(f"--tle: {exc}") from None
        overrides = {"orbit.tle_file": args.tle, **overrides}
    if args.start:
        overrides = {**overrides, "orbit.epoch": args.start}
    scenario = load_scenario(args.scenario or args.orbit or "leo", overrides, stations_file=args.stations,
                             add_stations=args.add_stations)
    duration = parse_duration(args.duration) if args.duration else None
    if args.out:
        check_writable(args.out)
    if args.progress is None:
        progress = "bar" if sys.stderr.isatty() else "lines"
    else:
        progress = "bar" if args.progress else "off"
    if args.fidelity == "exact":
        packets = contact_packets(scenario, duration or resolve_run(scenario, None, "exact")[0])
        if packets > 3 * EXACT_PACKET_BUDGET:
            print(f"python -m sim.run: note: exact fidelity will build up to ~{packets:,.0f} packets; "
                  "consider --fidelity statistical", file=sys.stderr)
    result = run_simulation(scenario, args.codec, duration, args.seed, args.fidelity, progress=progress)
    result.metrics.update(run_context(scenario, result.metrics["duration_s"]))
    for warning in result.metrics.get("warnings", []):
        print(f"python -m sim.run: warning: {warning}", file=sys.stderr)
    if args.out:
        write_outputs(result, args.out)
    if args.json:
        print(metrics_json(result.metrics))
    else:
        print(format_summary(result.metrics))
        if args.out:
            print(f"  outputs in {args.out}/ (metrics.json, events.csv, timeline.csv, contacts.csv, *.png)")
    return 0 if result.metrics["conservation_ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """Console entry point (``astroflight-sim``): :func:`run` under the convention of ``tools.cli``."""
    return run_cli("python -m sim.run", lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
