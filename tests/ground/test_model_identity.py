"""Rule 5 of the bit-exact path: the ground refuses to decode an IDF frame with another model bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

from flight.idf.bundle import bundle_digest

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "bundles" / "default"


def _other_bundle(tmp_path: Path) -> Path:
    """A valid bundle that differs from the default one (same networks, a changed manifest note)."""
    other = tmp_path / "other-bundle"
    shutil.copytree(DEFAULT, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["note"] = "a different bundle"
    (other / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (other / "bundle.sha256").write_text(bundle_digest(other).hex() + "\n")
    return other


def test_frame_coded_with_another_bundle_is_refused_naming_both_hashes(tmp_path):
    other = _other_bundle(tmp_path)
    src = tmp_path / "sky.fits"
    rng = np.random.default_rng(5)
    fits.PrimaryHDU((1000 + rng.poisson(40, (64, 64))).astype(np.int16)).writeto(src)
    stream = tmp_path / "s.bin"
    enc = subprocess.run([sys.executable, "-m", "tools.encode", str(src), "--codec", "idf", "--out", str(stream)],
                         capture_output=True, text=True)
    assert enc.returncode == 0, enc.stderr
    dec = subprocess.run([sys.executable, "-m", "ground.decode", str(stream), "--out", str(tmp_path / "o"),
                          "--model", str(other), "--json"], capture_output=True, text=True)
    assert dec.returncode == 1
    frame = json.loads(dec.stdout)["frames"][0]
    assert frame["status"] == "corrupt"
    flight_hash = bundle_digest(DEFAULT).hex()[:16]
    ground_hash = bundle_digest(other).hex()[:16]
    assert flight_hash in frame["reason"] and ground_hash in frame["reason"]
    assert not (tmp_path / "o" / "sky.fits").exists()
    same = subprocess.run([sys.executable, "-m", "ground.decode", str(stream), "--out", str(tmp_path / "p")],
                          capture_output=True, text=True)
    assert same.returncode == 0, same.stdout + same.stderr
