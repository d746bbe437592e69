"""The command-line tools' contract (``tools.cli``).

Bad input on ``python -m sim.run`` and ``python -m sim.study``: every case is one line on stderr naming the
problem, exit code 2, no traceback, and nothing written (the folder holding the inputs and the output location
is compared before and after). A run's outputs appear whole or not at all. Every console script answers
``--help`` and ``--version`` through its installed entry point; a reader that closes the pipe early ends a tool
quietly; ``flight/`` imports no tool, ground or simulator code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

REPO = Path(__file__).resolve().parents[2]
FRAME = REPO / "sim" / "frames" / "hinode_xrt_512.fits"
#: Small, short and statistical: a case that wrongly got through would still end in seconds.
QUICK = ["--fidelity", "statistical", "--duration", "1h", "--set", "camera.rows=64", "--set", "camera.cols=64"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """A folder of bad inputs, built once: scenario and study files, frame folders, output locations."""
    d = tmp_path_factory.mktemp("bad")
    leo = (REPO / "sim" / "scenarios" / "leo.toml").read_text()
    (d / "binary.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00 not text")
    (d / "truncated.toml").write_text(leo[: leo.index("[[stations]]") + 5])
    (d / "not_toml.toml").write_text("this is = not ] toml [\n")
    (d / "folder.toml").mkdir()
    (d / "extends_missing.toml").write_text('extends = "nowhere.toml"\n')
    (d / "study_truncated.toml").write_text('orbit = "leo"\ncodecs = ["raw", "rice"\n')
    frames = d / "frames"
    for name in ("empty", "only_text", "float", "not_fits", "truncated"):
        (frames / name).mkdir(parents=True)
    (frames / "only_text" / "README.txt").write_text("no frames here\n")
    fits.PrimaryHDU(np.zeros((32, 32), np.float32)).writeto(frames / "float" / "f.fits")
    (frames / "not_fits" / "x.fits").write_text("a text file that claims to be FITS\n")
    (frames / "truncated" / "t.fits").write_bytes(FRAME.read_bytes()[:4000])
    (d / "a_file").write_text("I am a file\n")
    return d


def snapshot(folder: Path) -> dict[str, tuple[bool, int]]:
    """Every path under ``folder`` with whether it is a folder and its size."""
    return {str(p.relative_to(folder)): (p.is_dir(), p.stat().st_size if p.is_file() else 0)
            for p in sorted(folder.rglob("*"))}


def assert_refused(module: str, args: list[str], needle: str, bad: Path) -> None:
    """Exit 2, one stderr line containing ``needle``, no traceback, nothing on stdout, nothing written."""
    before = snapshot(bad)
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert snapshot(bad) == before
    assert not (bad / "out").exists()


RUN_CASES = [
    # scenario files
    (["--scenario", "{bad}/missing.toml"], "scenario file {bad}/missing.toml: not found"),
    (["--scenario", "{bad}/binary.toml"], "binary.toml: not valid TOML (not UTF-8 text)"),
    (["--scenario", "{bad}/truncated.toml"], "truncated.toml: not valid TOML"),
    (["--scenario", "{bad}/not_toml.toml"], "not_toml.toml: not valid TOML"),
    (["--scenario", "{bad}/folder.toml"], "folder.toml: is a folder, not a TOML file"),
    (["--scenario", "{bad}/extends_missing.toml"], "extends 'nowhere.toml', which is not found"),
    # frame folders
    (["--set", "camera.source={bad}/frames/missing"], "camera.source: frame folder not found"),
    (["--set", "camera.source={bad}/frames/empty"], "camera.source: no FITS files"),
    (["--set", "camera.source={bad}/frames/only_text"], "camera.source: no FITS files"),
    (["--set", "camera.source={bad}/a_file"], "camera.source: frame folder not found"),
    (["--set", "camera.source={bad}/frames/float"], "f.fits: no integer image to compress"),
    (["--set", "camera.source={bad}/frames/not_fits"], "x.fits: not a FITS file"),
    (["--set", "camera.source={bad}/frames/truncated"], "t.fits: cannot read as FITS"),
    # outputs
    (["--out", "{bad}/a_file"], "--out {bad}/a_file: exists and is not a folder"),
    (["--out", "{bad}/a_file/run"], "--out {bad}/a_file/run: {bad}/a_file is a file, not a folder"),
    (["--out", "/proc/astroflight-test/run"], "--out /proc/astroflight-test/run: cannot write in /proc"),
    # flags
    (["--orbit", "leo", "--scenario", "{bad}/truncated.toml"], "--scenario: not allowed with argument --orbit"),
    (["--orbit", "nowhere"], "unknown scenario 'nowhere'"),
    (["--duration", "garbage"], "duration 'garbage': expected a number with unit"),
    (["--duration=-5d"], "duration '-5d'"),
    (["--duration", "0"], "duration '0': must be > 0"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0 (got '-1')"),
    (["--seed", "x"], "argument --seed: must be an integer >= 0"),
    (["--codec", "jpeg"], "argument --codec: invalid choice: 'jpeg'"),
    (["--fidelity", "fast"], "argument --fidelity: invalid choice"),
    (["--set", "radio"], "expected KEY=VALUE"),
    (["--set", "radio.rate_bsp=1e6"], "unknown key radio.rate_bsp (did you mean radio.rate_bps?)"),
    (["--set", "faults.outages=[{start=1}]"], "faults.outages must be a list of {start = ..., duration = ...}"),
]


@pytest.mark.parametrize(("args", "needle"), RUN_CASES, ids=[" ".join(a) for a, _ in RUN_CASES])
def test_sim_run_refuses_bad_input(bad, args, needle):
    args = [a.replace("{bad}", str(bad)) for a in args]
    # QUICK goes first so that a case's own --duration wins (argparse keeps the last value).
    out = [] if "--out" in args else ["--out", str(bad / "out")]
    assert_refused("sim.run", [*QUICK, *args, *out], needle.replace("{bad}", str(bad)), bad)


STUDY_CASES = [
    (["--study", "{bad}/missing.toml"], "--study {bad}/missing.toml: file not found"),
    (["--study", "{bad}/binary.toml"], "binary.toml: not valid TOML"),
    (["--study", "{bad}/study_truncated.toml"], "study_truncated.toml: not valid TOML"),
    (["--study", "{bad}/not_toml.toml"], "not_toml.toml: not valid TOML"),
    (["--study", "{bad}/folder.toml"], "folder.toml: cannot read (Is a directory)"),
    (["--scenario", "{bad}/binary.toml"], "binary.toml: not valid TOML (not UTF-8 text)"),
    (["--scenario", "{bad}/folder.toml"], "folder.toml: is a folder, not a TOML file"),
    (["--orbit", "leo", "--set", "camera.source={bad}/frames/empty"], "camera.source: no FITS files"),
    (["--orbit", "leo", "--set", "camera.source={bad}/frames/float"], "f.fits: no integer image to compress"),
    (["--orbit", "leo", "--set", "camera.source={bad}/frames/truncated"], "t.fits: cannot read as FITS"),
    (["--orbit", "leo", "--sweep", "camera.source={bad}/frames/not_fits,{bad}/frames/float"],
     "--sweep camera.source={bad}/frames/not_fits: camera.source: {bad}/frames/not_fits/x.fits: not a FITS file"),
    (["--orbit", "leo", "--out", "{bad}/a_file"], "--out {bad}/a_file: exists and is not a folder"),
    (["--orbit", "leo", "--out", "{bad}/a_file/study"], "--out {bad}/a_file/study: cannot write"),
    (["--orbit", "leo", "--out", "/proc/astroflight-test/study"], "--out /proc/astroflight-test/study: cannot write"),
    (["--orbit", "leo", "--scenario", "{bad}/truncated.toml"], "argument --scenario: not allowed with argument"),
    (["--orbit", "leo", "--duration", "garbage"], "--duration: duration 'garbage'"),
    (["--orbit", "leo", "--seeds", "-1"], "--seeds must be an integer >= 1 (got -1)"),
    (["--orbit", "leo", "--codecs", "raw,jpeg"], "--codecs: unknown codec 'jpeg'"),
    (["--orbit", "leo", "--workers", "-1"], "--workers must be >= 0"),
    (["--orbit", "leo", "--sweep", "radio.rate_bps=fast"], "--sweep radio.rate_bps: radio.rate_bps must be a number"),
]


@pytest.mark.parametrize(("args", "needle"), STUDY_CASES, ids=[" ".join(a) for a, _ in STUDY_CASES])
def test_sim_study_refuses_bad_input(bad, args, needle):
    args = [a.replace("{bad}", str(bad)) for a in args]
    out = [] if "--out" in args else ["--out", str(bad / "out")]
    # The case's own --duration / --workers come last, so they win over these defaults.
    assert_refused("sim.study", ["--duration", "1h", "--workers", "0", *args, *out], needle.replace("{bad}", str(bad)),
                   bad)


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode; see the in-process test below")
def test_unreadable_scenario_file(bad, tmp_path):
    path = tmp_path / "locked.toml"
    path.write_text('extends = "leo"\n')
    path.chmod(0)
    try:
        assert_refused("sim.run", [*QUICK, "--scenario", str(path)], "cannot read (Permission denied)", bad)
    finally:
        path.chmod(0o600)


def test_unreadable_files_in_process(bad, tmp_path, monkeypatch, capsys):
    """What a user without read permission sees (simulated, so it holds for root too)."""
    from sim.run import main

    locked = tmp_path / "locked.toml"
    locked.write_text('extends = "leo"\n')
    real_read = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    code = main([*QUICK, "--scenario", str(locked)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "locked.toml: cannot read (Permission denied)" in err[0]


def test_outputs_appear_whole_or_not_at_all(tmp_path, monkeypatch):
    """A run's files are written beside --out and renamed; a failure while writing leaves nothing."""
    from sim.mission.engine import run_simulation
    from sim.output import plots
    from sim.output.report import write_outputs
    from sim.scenario import load_scenario

    scenario = load_scenario("leo", {"camera.rows": 64, "camera.cols": 64})
    result = run_simulation(scenario, "rice", 3600.0, seed=0, fidelity="statistical")

    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(plots, "plot_latency", broken)
        with pytest.raises(OSError):
            write_outputs(result, tmp_path / "deep" / "run")
    assert list(tmp_path.iterdir()) == []  # neither the folder, nor its new parents, nor a temporary one

    written = write_outputs(result, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(p.name for p in written)
    (tmp_path / "run" / "notes.txt").write_text("mine\n")
    write_outputs(result, tmp_path / "run")  # into an existing folder: files replaced, others kept
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([*(p.name for p in written), "notes.txt"])
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# -- console scripts and the one CLI convention ---------------------------------------------------------------

SCRIPTS = {
    "astroflight-encode": "tools.encode:main",
    "astroflight-decode": "ground.decode:main",
    "astroflight-sim": "sim.run:main",
    "astroflight-study": "sim.study.cli:main",
}


def _script(name: str) -> Path:
    """The installed console script ``name`` beside this interpreter (pip install -e . puts it there)."""
    found = {ep.name: ep.value for ep in entry_points(group="console_scripts") if ep.name in SCRIPTS}
    assert found == SCRIPTS, "console scripts missing or stale: re-run pip install -e ."
    path = Path(sys.executable).parent / name
    assert path.is_file(), f"{path}: not installed"
    return path


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_help_and_version(name):
    from tools.cli import version

    script = str(_script(name))
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert helped.returncode == 0 and "usage:" in helped.stdout and "--version" in helped.stdout, helped.stderr
    shown = subprocess.run([script, "--version"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert shown.stdout.strip() == f"{name} {version()}" and version() != "unknown"  # named as the user typed it


def test_console_script_exit_code_is_mains():
    """A usage error through the installed script: one line, exit 2 (the script exits with main's code)."""
    proc = subprocess.run([str(_script("astroflight-decode")), str(REPO / "no-such.bin"), "--out", "x"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"astroflight-decode: error: {REPO / 'no-such.bin'}: no such file"], proc.stderr


def test_version_falls_back_to_pyproject(monkeypatch):
    import tomllib
    from importlib.metadata import PackageNotFoundError

    from tools import cli

    def missing(_name):
        raise PackageNotFoundError(_name)

    monkeypatch.setattr(cli, "dist_version", missing)
    cli.version.cache_clear()
    try:
        expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
        assert cli.version() == expected
    finally:
        cli.version.cache_clear()


def _raiser(exc: BaseException):
    def body() -> int:
        raise exc
    return body


@pytest.mark.parametrize(("exc", "code", "line"), [
    ("InputError", 2, "prog: error: bad flag"),
    ("FormatError", 2, "prog: error: bad flag"),
    ("ModelError", 2, "prog: error: bad flag"),
    (KeyboardInterrupt(), 130, "prog: interrupted"),
    (PermissionError(13, "Permission denied", "/x/y"), 2, "prog: error: /x/y: Permission denied"),
    (BrokenPipeError(32, "Broken pipe"), 141, None),
])
def test_run_cli_turns_errors_into_one_line(exc, code, line, capsys):
    from flight import errors
    from tools.cli import run_cli

    if isinstance(exc, str):
        exc = getattr(errors, exc)("bad flag")
    assert run_cli("prog", _raiser(exc)) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ([line] if line else [])


def test_run_cli_passes_exit_codes_and_system_exit(capsys):
    from tools.cli import run_cli

    assert run_cli("prog", lambda: 1) == 1
    with pytest.raises(SystemExit) as done:
        run_cli("prog", _raiser(SystemExit(0)))
    assert done.value.code == 0
    with pytest.raises(ValueError):  # a bug is a traceback, never a one-line "error"
        run_cli("prog", _raiser(ValueError("bug")))


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "sim.run", *QUICK, "--json"],
    [sys.executable, "-m", "tools.encode", str(FRAME), "--codec", "raw", "--out", "{tmp}/s.bin", "--json"],
])
def test_closed_stdout_ends_quietly(command, tmp_path):
    """``tool ... | head -1``: the reader is gone before the tool writes; no 'Broken pipe' error, exit 0 or 141."""
    command = [c.replace("{tmp}", str(tmp_path)) for c in command]
    read, write = os.pipe()
    os.close(read)  # the reader went away before the tool printed anything
    try:
        proc = subprocess.run(command, stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode in (0, 141), proc.stderr
    assert "Broken pipe" not in proc.stderr and "Traceback" not in proc.stderr and "error" not in proc.stderr
