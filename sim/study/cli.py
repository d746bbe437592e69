"""The ``python -m sim.study`` command line: a bandwidth trade study, from a sweep to a report a design review can read.

    python -m sim.study --orbit leo --codecs raw,rice,idf --sweep radio.rate_bps=0.5e6,1e6,2e6,4.3e6 \\
        --sweep storage.capacity_bytes=8e9,32e9 --duration 7d --seeds 2 --target-frames-per-day 100 --out DIR
    python -m sim.study --study study.toml --out DIR [--scheduler tcp://host:8786]

Order of work, and why: every input is validated (and a Dask scheduler connected) before DIR is touched, so a
mistake is one line on stderr, exit code 2 and no partial output. Then the cells not yet finished in DIR run
(local processes, or the cluster), each persisted as it ends; then results.csv, plots/*.png, report.md and
report.html are written from all finished cells. Exit code 0 when every cell succeeded, 1 when some failed
(they are listed in the report), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flight.errors import InputError
from sim.study.grid import (
    StudyError,
    StudySpec,
    build_spec,
    check_frame_sources,
    expand,
    load_cell_scenario,
    parse_codecs,
    parse_sweep_arg,
    read_study_file,
    scenario_inputs,
)
from sim.study.results import Summary, build_rows, write_csv
from tools.cli import OneLineParser, run_cli
from tools.files import write_atomic

REPO = Path(__file__).resolve().parents[1]

PROG = "python -m sim.study"


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="Sweep scenarios and codecs; write a trade-study report.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--orbit", metavar="NAME", help="shipped scenario (leo, leo-svalbard, iss, l2)")
    src.add_argument("--scenario", metavar="FILE", help="a scenario TOML file")
    p.add_argument("--study", metavar="FILE", help="a TOML study file (command-line options override it)")
    p.add_argument("--codecs", help="comma-separated codecs (default raw,rice)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a swept scenario key and its values; repeat for more axes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a fixed scenario override")
    p.add_argument("--duration", help="simulated time per cell, e.g. 7d, 30d, 6h (default 7d)")
    p.add_argument("--seeds", type=int, help="seeds per configuration (default 1)")
    p.add_argument("--fidelity", choices=("statistical", "exact"), help="default statistical")
    p.add_argument("--target-frames-per-day", type=float, metavar="N", help="for the cheapest-configuration table")
    p.add_argument("--heatmap", metavar="KEY_X,KEY_Y", help="the two swept keys of the heat map (default: first two)")
    p.add_argument("--title", help="report title")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (re-running skips finished cells)")
    run = p.add_mutually_exclusive_group()
    run.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    run.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: CPU count)")
    p.add_argument("--connect-timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    p.add_argument("--runner", help=argparse.SUPPRESS)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    return p


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The study file's options, overridden by the command line's."""
    opts: dict[str, Any] = read_study_file(args.study) if args.study else {}
    if args.orbit or args.scenario:
        opts["scenario"] = args.orbit or args.scenario
    if args.codecs is not None:
        opts["codecs"] = parse_codecs(args.codecs)
    sweep = dict(opts.get("sweep") or {})
    for text in args.sweep:
        s = parse_sweep_arg(text)
        if s.key in {parse_sweep_arg(t).key for t in args.sweep if t != text}:
            raise StudyError(f"--sweep {s.key}: swept twice; give all its values in one --sweep")
        sweep[s.key] = s
    opts["sweep"] = sweep
    fixed = dict(opts.get("set") or {})
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StudyError(f"--set {item!r}: expected KEY=VALUE, e.g. link.packet_loss=0.01")
        fixed[key.strip()] = value.strip()
    opts["set"] = fixed
    for name in ("duration", "seeds", "fidelity", "target_frames_per_day", "title", "runner"):
        if getattr(args, name) is not None:
            opts[name] = getattr(args, name)
    if args.heatmap is not None:
        opts["heatmap_axes"] = args.heatmap
    if args.workers is not None and args.workers < 0:
        raise StudyError("--workers must be >= 0 (0: run cells in this process)")
    return opts


@contextmanager
def _quiet_dask():
    """distributed logs connection retries at WARNING/ERROR; our error is the one line the user needs."""
    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.client", "distributed.core",
                                              "distributed.comm", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def make_executor(args: argparse.Namespace, opts: dict[str, Any]) -> Any:
    from sim.study.exec import DaskExecutor, LocalExecutor

    scheduler = args.scheduler  # the command line only: a study file must not pick a cluster (docs/trade_study.md)
    if scheduler:
        with _quiet_dask():
            return DaskExecutor(scheduler, timeout_s=args.connect_timeout)
    return LocalExecutor(args.workers if args.workers is not None else opts.get("workers"))


def software_version() -> str:
    """Package version plus the git commit (``-dirty`` when the work tree differs) when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"astroflight {version('astroflight')}"
    except PackageNotFoundError:
        text = "astroflight (not installed)"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        text += f", commit {commit}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        pass
    return f"{text}, Python {sys.version.split()[0]}"


def model_bundle(spec: StudySpec, records: dict[str, dict]) -> str:
    """The IDF bundle hash the cells used (as the engine reported it), else the one the codec loads here."""
    hashes = sorted({str(r.get("info", {}).get("model_hash")) for r in records.values()
                     if r.get("info", {}).get("model_hash")})
    if hashes:
        return ", ".join(hashes)
    idf = [r for c in expand(spec) if c.codec == "idf" and (r := records.get(c.cell_id))]
    if idf and all(r.get("status") != "ok" for r in idf):
        return f"none: no idf cell succeeded ({idf[0].get('error', '')})"
    try:
        from flight.codecs.registry import get_codec

        return get_codec("idf").model_hash().hex()
    except Exception as exc:  # noqa: BLE001 - the report states why there is no hash
        return f"unavailable ({' '.join(str(exc).split())})"


def calibration_rows(records: dict[str, dict]) -> list[dict[str, Any]]:
    """The calibration table(s) the statistical engine reported: one row per codec, source frame and CPU."""
    seen: dict[str, dict] = {}
    for rec in records.values():
        for row in rec.get("info", {}).get("calibration") or []:
            seen.setdefault(json.dumps(row, sort_keys=True), row)
    return sorted(seen.values(), key=lambda r: (str(r.get("codec")), str(r.get("cpu_profile")), str(r.get("frame"))))


def prepare_out(out: Path) -> bool:
    """Create DIR (and DIR/cells); a path that is a file or cannot be created is a one-line error.

    Returns whether DIR was created now (so a study that then fails on bad input can remove it again).
    """
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out}: exists and is not a folder")
    created = not out.exists()
    try:
        (out / "cells").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise StudyError(f"--out {out}: cannot write ({exc.strerror})") from None
    return created


def _same_study(path: Path, spec: StudySpec) -> bool:
    """Whether DIR/study.json describes this study (an unreadable one does not)."""
    try:
        return json.loads(path.read_text()) == json.loads(json.dumps(spec.to_dict(), default=str))
    except (OSError, ValueError):
        return False


def log_run(out: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Append this invocation to DIR/runs.json (the report lists every run that filled the folder)."""
    path = out / "runs.json"
    try:
        runs = json.loads(path.read_text())
    except (OSError, ValueError):
        runs = []
    runs.append(entry)
    write_atomic(path, json.dumps(runs, indent=1) + "\n")
    return runs


def write_report_files(spec: StudySpec, out: Path, runs: list[dict[str, Any]],
                       command: str) -> tuple[Summary, list[dict]]:
    """From every finished cell record in DIR: results.csv, plots, report.md, report.html."""
    from sim.study.exec import load_record
    from sim.study.plots import plot_all
    from sim.study.report import ReportContext, write_report

    cells = expand(spec)
    records = {c.cell_id: r for c in cells if (r := load_record(out, c.cell_id)) is not None}
    configs = {c.config_id: c.params for c in cells}
    inputs = {cid: scenario_inputs(load_cell_scenario(spec, params)) for cid, params in configs.items()}
    base = load_cell_scenario(spec, {})
    rows = build_rows(spec, cells, records, inputs)
    write_csv(out / "results.csv", spec, rows)
    summary = Summary(spec, rows, scenario_inputs(base))
    figures, skipped = plot_all(summary, records, out / "plots")
    ctx = ReportContext(
        spec=spec, summary=summary, figures=figures, skipped_figures=skipped, scenario_name=base.name,
        scenario_description=base.description, software=software_version(),
        model_hash=model_bundle(spec, records) if "idf" in spec.codecs else "",
        calibration=calibration_rows(records), runs=runs, command=command,
        cell_compute_s=sum(float(r.get("wall_s") or 0.0) for r in records.values() if r.get("status") == "ok"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    write_report(ctx, out)
    return summary, rows


def run(argv: list[str] | None = None) -> int:
    """The study command: check every input, run the pending cells into DIR and write the report.

    Raises InputError (before anything is written, or after removing a DIR this run created and filled with
    nothing) for bad input; :func:`main` turns it into one line and exit code 2.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = make_parser().parse_args(argv)
    out = Path(args.out)
    executor = None
    try:
        opts = options(args)
        spec = build_spec(opts)
        check_frame_sources(spec)
        cells = expand(spec)
        executor = make_executor(args, opts)
        created = prepare_out(out)
    except InputError:
        if executor is not None:
            executor.close()
        raise
    try:
        return _run_study(args, argv, spec, cells, executor, out)
    except InputError:  # found only once running (checked up front as far as possible)
        if created and not any((out / "cells").glob("*.json")):
            shutil.rmtree(out, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point (``astroflight-study``, ``python -m sim.study``): :func:`run` under the
    project's one-line error convention (:func:`tools.cli.run_cli`)."""
    return run_cli(PROG, lambda: run(argv))


def _run_study(args: argparse.Namespace, argv: list[str], spec: StudySpec, cells: list, executor: Any,
               out: Path) -> int:
    """Run the pending cells into DIR, then write the report from every finished cell."""
    from sim.study.exec import pending_cells, run_cells

    t0 = time.perf_counter()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"study: {len(cells)} cells ({len(cells) // (spec.seeds * len(spec.codecs))} configurations x "
          f"{len(spec.codecs)} codecs x {spec.seeds} seeds) on {executor.description} -> {out}", file=sys.stderr)
    previous = out / "study.json"
    if previous.is_file() and not _same_study(previous, spec):
        print(f"study: note: {out} held a different study; only its cells that match this one are reused",
              file=sys.stderr)
    write_atomic(previous, json.dumps(spec.to_dict(), indent=2, default=str) + "\n")
    try:
        if spec.runner == StudySpec.runner and pending_cells(out, cells):
            from sim.study.cell import warm_caches

            configs = {c.config_id: {**dict(spec.fixed), **c.params} for c in cells}
            t_warm = time.perf_counter()
            print("study: preparing pass geometry and calibration tables (cached on disk after the first study)",
                  file=sys.stderr)
            warm_caches(spec.scenario, list(configs.values()), list(spec.codecs), spec.duration_s, spec.fidelity)
            print(f"study: prepared in {time.perf_counter() - t_warm:.1f} s", file=sys.stderr)
        counts = run_cells(spec, cells, out, executor, progress=args.progress)
    except KeyboardInterrupt:
        print(f"study: interrupted; finished cells are kept in {out}/cells (re-run to resume)", file=sys.stderr)
        return 130
    finally:
        executor.close()
    wall = time.perf_counter() - t0
    command = "python -m sim.study " + shlex.join(argv)
    runs = log_run(out, {"started_utc": started, "executor": executor.description, "ran": counts["ran"],
                         "skipped": counts["skipped"], "failed": counts["failed"], "wall_s": round(wall, 1)})
    summary, rows = write_report_files(spec, out, runs, command)
    from sim.study.report import headline_sentences

    for line in headline_sentences(summary):
        print(line)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"study: {len(rows) - failed} of {len(rows)} cells ok, {failed} failed; {wall:.1f} s; "
          f"wrote {out}/report.html, report.md, results.csv, plots/", file=sys.stderr)
    return 1 if failed else 0
