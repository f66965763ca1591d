"""Nightingale's ``key=value`` tags, parsed for the targets API."""

from __future__ import annotations

import pytest

from heron.core.errors import BadRequest
from heron.inventory.records import parse_tags


@pytest.mark.parametrize(
    ("tags", "parsed"),
    [
        (["env=prod"], {"env": "prod"}),
        ([" env=prod ", "role=web"], {"env": "prod", "role": "web"}),
        (["url=http://a/b?c=d"], {"url": "http://a/b?c=d"}),
        (["env=a", "env=b"], {"env": "b"}),
        ([], {}),
    ],
)
def test_valid_tags(tags: list[str], parsed: dict[str, str]) -> None:
    assert parse_tags(tags) == parsed


@pytest.mark.parametrize("tag", ["env", "=prod", "env=", "1env=x", "e-nv=x", "e nv=x", ""])
def test_invalid_tags_are_refused(tag: str) -> None:
    with pytest.raises(BadRequest, match="invalid tag"):
        parse_tags([tag])
