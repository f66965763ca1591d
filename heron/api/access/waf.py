"""``/api/v1/waf``: addresses with failed credentials and the bans they earned (admin).

Shapes follow Nezha v1's WAF list (``ip``, ``block_identifier``, ``block_reason``,
``block_timestamp``, ``count``); Heron adds ``blocked_until``. Bans are lifted with
``DELETE /api/v1/waf?ip=...`` or Nezha's ``POST /api/v1/batch-delete/waf`` and a JSON list.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field

from heron.api.deps import authenticator, require_admin
from heron.api.pagination import Page, PageOf, page_params, paginate
from heron.api.schemas import Ok
from heron.auth.principal import Authenticator
from heron.auth.ratelimit import WafEntryInfo

router = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])


class WafOut(BaseModel):
    ip: str
    block_identifier: int = Field(description="user id tried, -126 a token or key, -125 an unknown user, 0 manual")
    block_reason: int = Field(description="1 login failure, 2 token or API key guessing, 3 agent, 4 manual block")
    block_timestamp: int = Field(description="Unix time of the last failure")
    count: int
    blocked_until: datetime | None = Field(description="banned until then; null: counted, not banned")


def _out(entry: WafEntryInfo) -> WafOut:
    return WafOut(
        ip=entry.ip,
        block_identifier=entry.block_identifier,
        block_reason=entry.block_reason,
        block_timestamp=entry.block_timestamp,
        count=entry.count,
        blocked_until=entry.blocked_until,
    )


@router.get("/api/v1/waf", summary="Addresses with failed credentials, and bans (admin)")
def list_waf(page: Page = Depends(page_params), auth: Authenticator = Depends(authenticator)) -> Ok[PageOf[WafOut]]:
    data = paginate(page, lambda o, n: [_out(e) for e in auth.waf.list(offset=o, limit=n)], auth.waf.count)
    return Ok[PageOf[WafOut]].model_validate({"data": data})


@router.delete("/api/v1/waf", summary="Lift bans and forget failures of addresses (admin)")
def lift_bans(
    ip: list[str] = Query(..., max_length=1000, description="address to lift; repeat for several"),
    auth: Authenticator = Depends(authenticator),
) -> Ok[int]:
    return Ok[int](data=auth.waf.lift(ip))


@router.post("/api/v1/batch-delete/waf", summary="Lift bans of a list of addresses (admin; Nezha v1)")
def batch_lift_bans(
    ips: list[str] = Body(..., max_length=1000, examples=[["203.0.113.7"]]),
    auth: Authenticator = Depends(authenticator),
) -> Ok[int]:
    return Ok[int](data=auth.waf.lift(ips))
