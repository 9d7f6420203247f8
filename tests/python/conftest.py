"""Shared paths of the Python tests: the source tree (data), the programs of the same build."""
import os
import pathlib

import pytest

SOURCE = pathlib.Path(os.environ.get("LUOJIA_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
PROGRAMS = pathlib.Path(os.environ.get("LUOJIA_PROGRAMS", SOURCE / "build" / "examples"))


@pytest.fixture
def source():
    return SOURCE


@pytest.fixture
def programs():
    return PROGRAMS
