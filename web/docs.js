// Swagger UI over this server's schema. A file of ours, not an inline script, so that
// /docs runs under the pages' Content-Security-Policy.
//
// Made accessible (axe-core checks it, tests/browser/test_docs.py): no deep links, which
// Swagger UI nests inside the operations' buttons; and the few controls it leaves without
// a fitting name or keyboard access get one as they appear.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: false });

const FIXES = [
  // The dialogs' "×" button has no name.
  [".close-modal:not([aria-label])", (node) => node.setAttribute("aria-label", "Close the dialog")],
  // "Logout" announced as "Remove authorization": the name must hold the visible word.
  ['button[aria-label="Remove authorization"]', (node) => node.removeAttribute("aria-label")],
  // Examples and responses scroll: keyboard users must be able to reach them.
  ["pre.microlight:not([tabindex])", (node) => node.setAttribute("tabindex", "0")],
];

new MutationObserver(() => {
  for (const [selector, fix] of FIXES) document.querySelectorAll(selector).forEach(fix);
}).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
