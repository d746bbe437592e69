"""Stand-ins for tests (no tests here): ``fakes.study`` is a study runner that does not simulate."""
