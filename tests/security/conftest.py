"""Fixtures of the security tests: the sample records the access rules refer to."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.matrix import make_context


@pytest.fixture
def context(app: Any) -> dict[str, Any]:
    return make_context()
