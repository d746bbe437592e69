"""Injected faults (sim/faults.py): every frame still ends in exactly one counted state, and each fault does what
it says: resets re-compress, corrupted stored packets are caught by CRC and regenerated or failed with a reason,
outages fill storage and the policy drops by its reason. Small frames keep the exact runs to about a second."""

from __future__ import annotations

import json

import pytest

from flight.codecs.registry import get_codec
from flight.errors import InputError
from sim.mission.engine import run_simulation
from sim.mission.faults import Faults
from sim.scenario import FaultsConfig, ScenarioError, load_scenario
from tests.sim.run_checks import comparable, conserved, without_host

DAY = 86400.0
TINY = {"camera.rows": 128, "camera.cols": 128, "camera.cadence_s": 120.0, "codec.tile_rows": 16,
        "codec.tile_cols": 128}
#: A flight computer slow enough (~140 s a frame) that resets often catch a frame mid-compression.
SLOW_CPU = {"cpu.clock_hz": 5e3}
#: Every fault at once, plus link losses, missed passes and a retransmission limit, on small stores.
EVERY_FAULT = {**TINY, **SLOW_CPU, "faults.reset_rate_per_day": 24.0, "faults.reboot_s": 120.0,
               "faults.storage_upsets_per_bit_day": 2e-6, "storage.capacity_bytes": 3e6,
               "storage.raw_capacity_bytes": 1.2e6, "faults.outages": [{"start": "1d", "duration": "1d"}],
               "link.packet_loss": 0.02, "link.missed_pass_probability": 0.2, "link.max_transmissions": 4}


def run(overrides: dict, codec: str = "rice", days: float = 3.0, seed: int = 7, fidelity: str = "exact"):
    return run_simulation(load_scenario("leo", overrides), codec, days * DAY, seed=seed, fidelity=fidelity)


@pytest.mark.parametrize("keep_raw", [True, False])
@pytest.mark.parametrize("fidelity", ["exact", "statistical"])
@pytest.mark.parametrize("codec", ["raw", "rice", "idf"])
def test_every_frame_ends_in_one_state_with_every_fault(codec, fidelity, keep_raw):
    if codec == "idf":
        try:
            get_codec("idf")
        except InputError as exc:
            pytest.skip(f"codec idf not available: {exc}")
    m = run({**EVERY_FAULT, "storage.keep_raw_until_ack": keep_raw}, codec, fidelity=fidelity).metrics
    assert m["conservation_ok"] and conserved(m)
    f, faults = m["frames"], m["faults"]
    assert f["verified"] > 0
    assert faults["frames_recompressed"] > 0 and faults["storage_upsets"] > 0 and faults["passes_missed"] > 0
    assert faults["outage_contacts_lost"] + faults["outage_contacts_cut"] > 0
    assert faults["corrupt_packets_found_onboard"] > 0
    assert f["failed"].get("storage_corruption", 0) == faults["frames_failed_storage_corruption"]
    assert set(f["failed"]) <= {"storage_corruption", "retransmission_limit"}
    if not keep_raw:
        assert faults["packets_regenerated"] == 0 and faults["raw_copies_onboard_at_end"] == 0
        assert faults["frames_failed_storage_corruption"] > 0
    if fidelity == "exact":  # every corrupt packet sent was really dropped by the ground's CRC-16
        assert m["exact"]["ground_packets_rejected"] >= faults["corrupt_packets_sent"] > 0
        assert m["exact"]["frames_rejected"] == 0 and m["exact"]["frames_decoded"] == f["verified"]


def test_faults_are_reproducible_and_fidelity_independent():
    a = run(EVERY_FAULT, fidelity="statistical", seed=11)
    b = run(EVERY_FAULT, fidelity="statistical", seed=11)
    c = run(EVERY_FAULT, fidelity="statistical", seed=12)
    assert without_host(a.metrics) == without_host(b.metrics) and comparable(a.events) == comparable(b.events)
    assert a.metrics["faults"] != c.metrics["faults"]
    ex = run(EVERY_FAULT, fidelity="exact", seed=11).metrics
    assert ex["frames"] == a.metrics["frames"] and ex["faults"] == a.metrics["faults"]


def test_faults_off_by_default_and_counted_zero():
    m = run(TINY, days=1.0, fidelity="statistical").metrics
    assert all(v == 0 for k, v in m["faults"].items() if k != "config")
    assert m["faults"]["config"]["outages"] == [] and m["faults"]["config"]["reset_rate_per_day"] == 0


def test_resets_recompress_frames_that_still_verify_bit_exact():
    calm = run({**TINY, **SLOW_CPU}, days=1.5, fidelity="statistical")
    hit = run({**TINY, **SLOW_CPU, "faults.reset_rate_per_day": 48.0, "faults.reboot_s": 300.0}, days=1.5)
    m, faults = hit.metrics, hit.metrics["faults"]
    assert faults["resets"] > 50 and faults["resets_during_compression"] > 0 and faults["cpu_s_lost"] > 0
    redone = [e for e in hit.events if e["recompressions"] > 0]
    assert sum(e["recompressions"] for e in redone) == faults["frames_recompressed"] > 20
    assert any(e["state"] == "verified" for e in redone)  # compressed again, then rebuilt bit-exact by ground/
    assert m["exact"]["frames_rejected"] == 0 and m["exact"]["frames_decoded"] == m["frames"]["verified"]
    # Nothing is lost to a reset: the same frames are captured, none dropped or failed, the work only takes longer.
    assert m["frames"]["captured"] == calm.metrics["frames"]["captured"]
    assert m["frames"]["dropped"] == calm.metrics["frames"]["dropped"] == {} and m["frames"]["failed"] == {}
    assert m["cpu_utilisation"] > calm.metrics["cpu_utilisation"] and conserved(m)


#: A frame every 5 min (fewer frames to decode for real), upsets frequent enough to hit a few dozen packets.
UPSETS = {**TINY, "camera.cadence_s": 300.0, "faults.storage_upsets_per_bit_day": 8e-6,
          "storage.raw_capacity_bytes": 1e8}


def test_corrupt_stored_packets_are_regenerated_from_kept_raw_frames():
    result = run({**UPSETS, "storage.keep_raw_until_ack": True}, days=2.0)
    m, faults = result.metrics, result.metrics["faults"]
    assert faults["corrupt_packets_sent"] > 0 and faults["packets_regenerated"] > 0
    assert m["exact"]["ground_packets_rejected"] >= faults["corrupt_packets_sent"]  # dropped by CRC-16, for real
    assert m["frames"]["failed"] == {} and faults["raw_copies_freed_for_space"] == 0 and conserved(m)
    rebuilt = [e for e in result.events if e["packets_regenerated"] > 0]
    assert rebuilt and all(e["state"] in ("verified", "stored") for e in rebuilt)
    assert sum(e["state"] == "verified" for e in rebuilt) >= 0.8 * len(rebuilt)
    assert m["exact"]["frames_rejected"] == 0 and m["exact"]["frames_decoded"] == m["frames"]["verified"]


def test_corrupt_stored_packets_without_raw_frames_fail_with_the_reason():
    result = run({**UPSETS, "storage.keep_raw_until_ack": False}, days=2.0)
    m, faults = result.metrics, result.metrics["faults"]
    assert m["frames"]["failed"] == {"storage_corruption": faults["frames_failed_storage_corruption"]}
    assert faults["frames_failed_storage_corruption"] > 0 and faults["packets_regenerated"] == 0
    failed = [e for e in result.events if e["state"] == "failed"]
    assert len(failed) == faults["frames_failed_storage_corruption"]
    assert all(e["reason"] == "storage_corruption" for e in failed) and conserved(m)


@pytest.mark.parametrize(("policy", "reason"), [("drop_newest", "packet_store_full"),
                                                ("drop_oldest", "evicted_from_packet_store"),
                                                ("stop_capture", None)])
def test_a_three_day_outage_overflows_storage_and_the_policy_drops_by_reason(policy, reason):
    # 128 x 128 frames every 2 min: ~19 MB of RICE a day. Without the outage the packet store peaks at ~18.5 MB
    # (frames wait up to a day for the ACK); 25 MB cannot absorb three days without contact.
    base = {**TINY, "storage.capacity_bytes": 25e6, "storage.raw_capacity_bytes": 2e6, "storage.policy": policy}
    calm = run(base, days=6.0, fidelity="statistical").metrics
    cut = run({**base, "faults.outages": [{"start": "2d", "duration": "3d"}]}, days=6.0, fidelity="statistical")
    m = cut.metrics
    assert calm["frames"]["dropped"] == {} and calm["frames"]["skipped_captures"] == 0
    assert m["faults"]["outage_contacts_lost"] >= 8 and m["faults"]["outage_contact_s"] > 45 * 60  # ~18 min a day
    assert all(c["outage_s"] > 0 for c in cut.contacts if 2 * DAY <= c["start_s"] and c["end_s"] <= 5 * DAY)
    if reason is None:
        assert m["frames"]["dropped"] == {} and m["frames"]["skipped_captures"] > 500
    else:
        assert set(m["frames"]["dropped"]) == {reason} and m["frames"]["dropped"][reason] > 500
    assert m["frames"]["verified"] < calm["frames"]["verified"] and conserved(m)


def test_outages_cut_contacts_into_the_pieces_outside_them():
    f = Faults(FaultsConfig(outages=[{"start": 100.0, "duration": 50.0}, {"start": 300.0, "duration": 1e9}]), 0)
    assert f.usable(0.0, 90.0) == [(0.0, 90.0)]
    assert f.usable(80.0, 200.0) == [(80.0, 100.0), (150.0, 200.0)]
    assert f.usable(120.0, 140.0) == [] and f.usable(290.0, 400.0) == [(290.0, 300.0)]


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"faults.reset_rate_per_day": -1}, "faults.reset_rate_per_day must be >= 0"),
    ({"faults.outages": "[{start = 5}]"}, "faults.outages must be a list of {start = ..., duration = ...}"),
    ({"faults.outages": '[{start = "2d", duration = "soon"}]'}, "faults.outages.0.duration: expected seconds"),
    ({"faults.outages": "[{start = -1, duration = 10}]"}, "faults.outages.0.start must be >= 0"),
    ({"storage.keep_raw_until_ack": "yes"}, "storage.keep_raw_until_ack must be true or false"),
    ({"faults.reboot": 5}, "unknown key faults.reboot (did you mean faults.reboot_s?)"),
])
def test_bad_fault_keys_name_the_key(overrides, needle):
    with pytest.raises(ScenarioError) as err:
        load_scenario("leo", overrides)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_faults_from_the_command_line_reach_metrics_and_summary(capsys):
    from sim.run import main

    args = ["--orbit", "leo", "--codec", "rice", "--duration", "2d", "--fidelity", "statistical", "--seed", "3"]
    for key, value in {**TINY, **SLOW_CPU, "faults.reset_rate_per_day": 24, "faults.storage_upsets_per_bit_day": 2e-6,
                       "faults.outages": '[{start="1d", duration="12h"}]'}.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    text = capsys.readouterr().out
    for label in ("resets", "storage upsets", "outages", "compressed again", "contacts lost"):
        assert label in text
    assert main([*args, "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["faults"]["config"]["outages"] == [[86400.0, 129600.0]] and m["faults"]["resets"] > 0
