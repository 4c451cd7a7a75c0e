"""Paging parameters shared by every list endpoint of the API.

Every integer a client sends is bounded: an unbounded ``offset`` of 2**63 reached the database
and failed there (a 500 on SQLite and PostgreSQL alike). Out-of-range values are refused by
validation with the API's usual 422 error naming the field and the bound.
"""

from __future__ import annotations

from ninja import Field, Schema

MAX_LIMIT = 200
# Far beyond any catalog or log page a person reads; deeper reads should filter instead.
MAX_OFFSET = 100_000


class PageQuery(Schema):
    """``limit`` and ``offset`` of a list endpoint (inherit it in the endpoint's filter schema)."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


def page_slice(*, limit: int, offset: int) -> slice:
    """The slice of a query set that one page covers (arguments already validated)."""
    return slice(offset, offset + limit)
