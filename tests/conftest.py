"""Shared fixtures. Tests that need ../shared/data skip when it is absent, unless
DOCMODEL_REQUIRE_SHARED_DATA is set (as .ci/run does), when they fail instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DOCMODEL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skip (or fail under CI) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found: {path} (set DOCMODEL_SHARED_DATA or put shared/ beside the repo)"
        if os.environ.get("DOCMODEL_REQUIRE_SHARED_DATA"):
            pytest.fail(reason + "; DOCMODEL_REQUIRE_SHARED_DATA is set, so this is a failure")
        pytest.skip(reason)
    return path


@pytest.fixture
def shared():
    return shared_path
