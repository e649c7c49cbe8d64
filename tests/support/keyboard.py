"""Is every control of a page reachable with the Tab key? Pressed for real, in the browser."""

from __future__ import annotations

from playwright.sync_api import Page

__all__ = ["unreachable_by_tab"]

# Every visible, enabled control (open shadow roots included, for the widget; not inside a
# closed <details>, which checkVisibility sees) gets a number; the focused element's
# number is read after each Tab. Tabs of a tab list other than the selected one are left
# out (tabindex -1): the arrow keys reach them (WAI-ARIA tabs pattern).
_MARK = """() => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
  const found = [];
  const walk = (root) => {
    for (const node of root.querySelectorAll('*')) {
      if (node.shadowRoot) walk(node.shadowRoot);
      if (!node.matches(selector) || node.disabled || node.tabIndex < 0) continue;
      if (node.closest('[inert]') || !node.checkVisibility({ visibilityProperty: true })) continue;
      node.dataset.kbd = String(found.length);
      found.push(node.outerHTML.slice(0, 120));
    }
  };
  walk(document);
  return found;
}"""

_FOCUSED = """() => {
  let node = document.activeElement;
  while (node && node.shadowRoot && node.shadowRoot.activeElement) {
    node = node.shadowRoot.activeElement;
  }
  return node && node.dataset ? node.dataset.kbd ?? null : null;
}"""


def unreachable_by_tab(page: Page, *, presses: int = 300) -> list[str]:
    """The controls that pressing Tab from the top of the page never focuses."""
    controls = page.evaluate(_MARK)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    seen: set[str] = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        marker = page.evaluate(_FOCUSED)
        if marker is not None:
            seen.add(marker)
        if len(seen) == len(controls):
            break
    return [html for n, html in enumerate(controls) if str(n) not in seen]
