"""The built web UI (``static/``, made by ``make web`` from ``web/`` at the repository root) and the
status page templates; data files only, found with :func:`static_dir` and :func:`templates_dir`."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def static_dir() -> Path:
    return _HERE / "static"


def templates_dir() -> Path:
    return _HERE / "templates"
