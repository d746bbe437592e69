"""Tests of the mission simulator: scenario, orbit, coding, CPU, engine, faults, command line."""
