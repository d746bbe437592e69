"""Running a study's cells on an existing engine: local processes by default, or a Dask cluster.

Why no job system of our own: ``concurrent.futures`` and ``dask.distributed`` already schedule, retry workers
and report failures; what a study adds is only (1) each cell as one pure function call whose result depends on
its payload alone, (2) a record per finished cell written atomically to ``DIR/cells/<cell_id>.json``, so an
interrupted or partly failed study resumes where it stopped, and (3) a failure in one cell becoming a record with
the cell's parameters and error instead of stopping the rest.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from sim.study.grid import Cell, StudyError, StudySpec
from tools.files import write_atomic

CELLS_DIR = "cells"


def payload(spec: StudySpec, cell: Cell) -> dict[str, Any]:
    """What a worker needs to run one cell: plain data only, so it pickles to any process or Dask worker."""
    overrides = dict(spec.fixed)
    overrides.update(cell.params)
    return {"cell_id": cell.cell_id, "scenario": spec.scenario, "overrides": overrides, "codec": cell.codec,
            "duration_s": spec.duration_s, "seed": cell.seed, "seed_index": cell.seed_index, "fidelity": spec.fidelity,
            "runner": spec.runner}


def run_cell(job: dict[str, Any]) -> dict[str, Any]:
    """Run one cell and never raise: a failure becomes ``{"status": "failed", "error": ...}``.

    The runner is named by a ``module:function`` string so that the worker imports it itself (a Dask worker on
    another machine has no access to our objects, only to the installed package).
    """
    t0 = time.perf_counter()
    try:
        module, _, name = job["runner"].partition(":")
        runner: Callable[[dict], dict] = getattr(importlib.import_module(module), name)
        out = runner(job)
        record = {"status": "ok", "error": "", "metrics": out.get("metrics", {}), "series": out.get("series", {}),
                  "info": out.get("info", {})}
    except Exception as exc:  # noqa: BLE001 - a failing cell must not stop the study
        record = {"status": "failed", "error": _one_line(exc), "metrics": {}, "series": {}, "info": {},
                  "traceback": traceback.format_exc(limit=8)}
    record["cell_id"] = job["cell_id"]
    record["wall_s"] = round(time.perf_counter() - t0, 3)
    return record


def _one_line(exc: BaseException) -> str:
    from flight.errors import InputError

    text = " ".join(str(exc).split())
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


# -- persistence ------------------------------------------------------------------------------------------------


def cell_path(out_dir: Path, cell_id: str) -> Path:
    return out_dir / CELLS_DIR / f"{cell_id}.json"


def save_record(out_dir: Path, cell: Cell, record: dict[str, Any]) -> None:
    """Write a cell's record atomically (temp file + rename): a killed study never leaves half a record."""
    folder = out_dir / CELLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    doc = dict(record)
    doc["cell"] = {"cell_id": cell.cell_id, "config_id": cell.config_id, "codec": cell.codec, "params": cell.params,
                   "seed_index": cell.seed_index, "seed": cell.seed}
    write_atomic(cell_path(out_dir, cell.cell_id), json.dumps(doc, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def load_record(out_dir: Path, cell_id: str) -> dict[str, Any] | None:
    """A finished cell's record, or None when absent or unreadable."""
    try:
        return json.loads(cell_path(out_dir, cell_id).read_text())
    except (OSError, ValueError):
        return None


def pending_cells(out_dir: Path, cells: list[Cell]) -> list[Cell]:
    """Cells without a successful record: never run, interrupted, or failed last time (failures are retried)."""
    todo = []
    for cell in cells:
        rec = load_record(out_dir, cell.cell_id)
        if rec is None or rec.get("status") != "ok":
            todo.append(cell)
    return todo


# -- executors --------------------------------------------------------------------------------------------------


class LocalExecutor:
    """Cells on local processes (``ProcessPoolExecutor``); ``workers=0`` runs them in this process, in order.

    The forkserver start method gives each worker a clean interpreter (no inherited threads or locks from the
    parent's progress bar or plotting), while still paying the import cost only once per worker.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else max(1, os.cpu_count() or 1)
        self.description = f"local, {self.workers} process{'es' if self.workers != 1 else ''}" if self.workers \
            else "local, in-process"

    def map(self, jobs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.workers == 0:
            for job in jobs:
                yield run_cell(job)
            return
        ctx = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(self.workers, max(1, len(jobs))), mp_context=ctx) as pool:
            futures = {pool.submit(run_cell, job): job for job in jobs}
            try:
                for fut in as_completed(futures):
                    yield _result_or_failure(fut, futures[fut])
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise

    def close(self) -> None:
        pass


class DaskExecutor:
    """Cells on a Dask cluster through a ``distributed.Client`` (connect first: an unreachable one is an error)."""

    def __init__(self, address: Any, timeout_s: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise StudyError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        try:
            self.client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise StudyError(f"--scheduler {address}: cannot connect ({text[:200]})") from None
        try:  # a scheduler without workers would accept the cells and never run them
            self.client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError) as exc:
            self.client.close()
            raise StudyError(f"--scheduler {address}: no worker joined within {timeout_s:g} s ({type(exc).__name__})"
                             ) from None
        workers = len(self.client.scheduler_info().get("workers", {}))
        self.description = f"dask scheduler {self.client.scheduler.address} ({workers} workers at start)"

    def map(self, jobs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        from distributed import as_completed as dask_as_completed

        # pure=False: a re-submitted cell runs again instead of returning a cached (maybe failed) result.
        futures = {self.client.submit(run_cell, job, key=f"cell-{job['cell_id']}", pure=False): job for job in jobs}
        try:
            for fut in dask_as_completed(futures, loop=self.client.loop):
                yield _result_or_failure(fut, futures[fut])
        except BaseException:
            self.client.cancel(list(futures))
            raise

    def close(self) -> None:
        self.client.close()


def _result_or_failure(fut: Any, job: dict[str, Any]) -> dict[str, Any]:
    """A future's record; a worker that died (not the cell's own exception) also becomes a failed record."""
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001
        return {"cell_id": job["cell_id"], "status": "failed", "error": f"worker lost: {_one_line(exc)}",
                "metrics": {}, "series": {}, "info": {}, "wall_s": 0.0}


def run_cells(spec: StudySpec, cells: list[Cell], out_dir: Path, executor: LocalExecutor | DaskExecutor,
              progress: bool | None = None, log: Callable[[str], None] | None = None) -> dict[str, int]:
    """Run the cells not yet finished under ``out_dir``, persisting each record as it arrives.

    Returns counts ``{"total", "skipped", "ran", "failed"}``. A progress bar is shown on a terminal; elsewhere
    (CI logs) one line per cell. Every failure is printed with the cell's parameters and error.
    """
    from tqdm import tqdm

    log = log or (lambda s: print(s, file=sys.stderr))
    todo = pending_cells(out_dir, cells)
    by_id = {c.cell_id: c for c in todo}
    counts = {"total": len(cells), "skipped": len(cells) - len(todo), "ran": 0, "failed": 0}
    if counts["skipped"]:
        log(f"study: {counts['skipped']} of {len(cells)} cells already finished in {out_dir}, skipping them")
    if not todo:
        return counts
    interactive = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(todo), desc="cells", unit="cell", file=sys.stderr, disable=not interactive,
               dynamic_ncols=True)
    try:
        for record in executor.map([payload(spec, c) for c in todo]):
            cell = by_id[record["cell_id"]]
            save_record(out_dir, cell, record)
            counts["ran"] += 1
            done = f"[{counts['ran']}/{len(todo)}]"
            if record["status"] != "ok":
                counts["failed"] += 1
                bar.write(f"study: cell failed {done} {cell.label()}: {record['error']}", file=sys.stderr)
            elif not interactive:
                log(f"study: cell {done} {cell.label()} ok ({record['wall_s']:.1f} s)")
            bar.update(1)
    finally:
        bar.close()
    return counts
