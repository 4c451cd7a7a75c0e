"""Extension points of ``cases`` that higher apps plug into (never imported the other way).

``case_links``: links shown among a case's actions, contributed by higher apps (documents: "issue
the signed document" once the case is approved). Each link decides from the case whether it
applies and where it points, so ``cases`` never reverses a higher app's URL itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from machi.core.models import User
from machi.core.registry import Registry


@dataclass(frozen=True)
class CaseLinkTarget:
    """Where a case link points, in the user's language."""

    label: str
    url: str
    primary: bool = False


@dataclass(frozen=True)
class CaseLink:
    """``target(user, case)`` returns the link, or None when it does not apply to this case."""

    target: Callable[[User, object], CaseLinkTarget | None]


case_links: Registry[CaseLink] = Registry(
    "cases.case_links", description="links among a case's actions contributed by higher apps"
)


def links_for(*, user: User, case: object) -> list[CaseLinkTarget]:
    """The links that apply to ``case`` for ``user``, in registry order."""
    targets = (link.target(user, case) for link in case_links)
    return [target for target in targets if target is not None]
