"""axe-core (from npm, ``make install-test``) run inside a page under test.

The script is read from node_modules and evaluated through the DevTools protocol, which
the pages' Content-Security-Policy does not apply to: nothing is loaded from a CDN and
the policy under test stays as it is. ``target-size`` (WCAG 2.2, 2.5.8), off by default
in axe, is switched on.
"""

from __future__ import annotations

from functools import cache

import pytest
from playwright.sync_api import Page

from assistant.settings import PROJECT_ROOT

__all__ = ["AXE_SCRIPT", "axe_violations", "check_accessibility"]

AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
_OPTIONS = {"rules": {"target-size": {"enabled": True}}, "resultTypes": ["violations"]}


@cache
def _source() -> str:
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `npm ci` (`make install-test` does)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict]:
    """Every rule the page breaks, as axe reports it (id, impact, help, nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source() + "\n;undefined")
    run = "(options) => axe.run(document, options).then((result) => result.violations)"
    return page.evaluate(run, _OPTIONS)


def _describe(violation: dict) -> str:
    nodes = "; ".join(" > ".join(map(str, node["target"])) for node in violation["nodes"][:5]) + (
        " …" if len(violation["nodes"]) > 5 else ""
    )
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {nodes}"


def check_accessibility(page: Page, what: str) -> list[dict]:
    """Fail on a serious or critical violation; print the lesser ones. Returns them all."""
    violations = axe_violations(page)
    for violation in violations:
        print(f"axe on {what}: {_describe(violation)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {what}:\n" + "\n".join(map(_describe, blocking))
    print(f"axe on {what}: 0 serious or critical violations ({len(violations)} lesser)")
    return violations
