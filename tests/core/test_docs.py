"""Documentation stays in step with the code."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from heron.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [f.name for f in fields(Settings) if f"`{f.name}`" not in text or f"`HERON_{f.name.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"
