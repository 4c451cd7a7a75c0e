"""Run axe-core in a Playwright page and describe its violations for a failure message."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

# WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@cache
def axe_source() -> str:
    """axe.min.js as shipped inside the axe-playwright-python package."""
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """All axe violations on the page as it is now, for rules tagged with ``tags``.

    The pages send ``script-src 'self'``, so a <script> tag would be refused; page.evaluate()
    goes through the DevTools protocol, which Content-Security-Policy does not apply to.
    """
    page.evaluate(axe_source())
    options = {
        "runOnly": {"type": "tag", "values": tags or WCAG_TAGS},
        "resultTypes": ["violations"],
    }
    results: dict[str, Any] = page.evaluate("options => axe.run(document, options)", options)
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the violations that must fail the build (impact serious or critical)."""
    return [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]], *, max_targets: int = 3) -> str:
    """One line per violation: rule id, impact, help text, and the first offending selectors."""
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:max_targets]]
        more = len(v["nodes"]) - len(targets)
        lines.append(
            f"- {v['id']} [{v['impact']}] {v['help']} ({len(v['nodes'])} nodes): "
            + "; ".join(targets)
            + (f"; … and {more} more" if more > 0 else "")
            + f"\n  {v['helpUrl']}"
        )
    return "\n".join(lines)
