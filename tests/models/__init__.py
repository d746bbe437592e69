"""Tests of IDF training and export (need the train extra; skipped without TensorFlow)."""
