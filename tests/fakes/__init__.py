"""Stand-ins for tests (no tests here): ``tests.fakes.study`` is a study runner that does not simulate."""
