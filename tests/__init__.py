"""Tests, grouped by room (docs/architecture.md); shared paths in ``tests.shared_data``."""
