"""Fixtures of the load and fault tests: a small generated database and gunicorn with
two workers serving it, as in production.

These tests start processes and take tens of seconds: they are marked `slow`, and they run
once per CI submission (in the SQLite run: skipped when TEST_DATABASE_URL is set), except
the PostgreSQL restart test, which runs only in the PostgreSQL run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The size of the CI database: 1,000 projects, 10,000 visits, 300 x 0.01 users...
CI_SCALE = 0.01


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A generated SQLite database at CI scale (built once per run, a copy per worker)."""
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("load tests run once, in the SQLite run (TEST_DATABASE_URL is set)")
    from benchmarks.generate import generate
    from tests.conftest import built_once, copy_sqlite

    # Generated once per run; each xdist worker that runs load tests gets its own copy.
    generated = built_once(tmp_path_factory, "load.sqlite3", lambda url, _: generate(url, CI_SCALE))
    yield copy_sqlite(generated, tmp_path_factory.mktemp("load") / "load.sqlite3")
