"""Tests of the ground room: reassembly, verification, model identity, property tests on streams."""
