"""Tests of the ground-support tools: the CLI convention, console scripts, atomic files, round trips."""
