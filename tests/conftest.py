"""Project-wide pytest configuration: the `--update-goldens` switch of the golden-file tests."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/files/golden/ from the current renderers instead of comparing "
        "against it (review the diff before committing it)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files rather than check them."""
    return bool(request.config.getoption("--update-goldens"))
