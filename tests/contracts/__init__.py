"""Conformance suites run over every backend of a protocol (GUIDE habit 2)."""

import pytest

# The suites live outside test_*.py files; without this their asserts would not
# show the compared values when they fail.
pytest.register_assert_rewrite("tests.contracts.storage_contract", "tests.contracts.search_contract")
