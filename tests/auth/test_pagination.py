"""One helper pages native lists and both openITCOCKPIT modes; scroll mode never counts."""

from __future__ import annotations

import pytest

from heron.api.pagination import OitcPage, Page, paginate, paginate_oitc

ITEMS = list(range(11))


def fetch(offset: int, limit: int) -> list[int]:
    return ITEMS[offset : offset + limit]


def no_count() -> int:
    raise AssertionError("scroll mode must not run a count query")


def test_native_page_has_value_and_pagination() -> None:
    assert paginate(Page(offset=10, limit=5), fetch, lambda: len(ITEMS)) == {
        "value": [10],
        "pagination": {"offset": 10, "limit": 5, "total": 11},
    }


def test_paginator_mode_is_the_documented_block() -> None:
    rows, block = paginate_oitc(OitcPage(page=1, limit=50, scroll=False), fetch, lambda: len(ITEMS))
    assert rows == ITEMS
    assert block == {
        "paging": {
            "page": 1,
            "current": 11,
            "count": 11,
            "prevPage": False,
            "nextPage": False,
            "pageCount": 1,
            "limit": 50,
            "options": [],
            "paramType": "named",
            "queryScope": None,
        }
    }


def test_paginator_mode_in_the_middle() -> None:
    rows, block = paginate_oitc(OitcPage(page=2, limit=4, scroll=False), fetch, lambda: len(ITEMS))
    assert rows == [4, 5, 6, 7]
    paging = block["paging"]
    assert (paging["prevPage"], paging["nextPage"], paging["pageCount"], paging["current"]) == (True, True, 3, 4)


@pytest.mark.parametrize(
    ("page", "limit", "rows", "has_next"),
    [(1, 50, ITEMS, False), (1, 5, ITEMS[:5], True), (3, 5, [10], False), (2, 5, ITEMS[5:10], True)],
)
def test_scroll_mode_fetches_one_more_and_counts_nothing(
    page: int, limit: int, rows: list[int], has_next: bool
) -> None:
    got, block = paginate_oitc(OitcPage(page=page, limit=limit, scroll=True), fetch, no_count)
    assert got == rows
    assert block == {
        "scroll": {
            "page": page,
            "limit": limit,
            "offset": (page - 1) * limit,
            "hasPrevPage": page > 1,
            "prevPage": max(1, page - 1),
            "nextPage": page + 1,
            "current": page,
            "hasNextPage": has_next,
        }
    }
