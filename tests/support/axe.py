"""axe-core in the browser tests: the vendored ``axe.min.js`` (``scripts/vendor.sh``) injected into a
page, and its violations read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "data" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")
EVERY_IMPACT = ("critical", "serious", "moderate", "minor")
RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
}))"""


def violations(page: Page, impacts: tuple[str, ...] = BLOCKING) -> list[str]:
    """The axe-core violations of ``impacts`` on the page as it is now, one line each (rule, impact,
    first elements), for an assertion message."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}"
        for v in found
        if v["impact"] in impacts
    ]
