"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
import uuid

import pytest

from lakehouse.settings import Settings, load_settings


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings()


@pytest.fixture
def unique_suffix() -> str:
    """A short id for names that must not collide with other tests or runs."""
    return uuid.uuid4().hex[:8]


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
