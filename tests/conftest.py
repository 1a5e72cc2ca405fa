"""Test configuration: the fixtures for the real parts live in tests/fixtures/."""

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.sandbox"]
