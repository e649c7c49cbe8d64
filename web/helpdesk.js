/* Export Assistant — the helpdesk page: search with highlights, suggested replies, reviews,
 * and the errors Meta reported for WhatsApp.
 *
 * The API key is asked for once and kept in sessionStorage (this tab only). Text from
 * the server is always set as text: highlights are built from the offsets the API
 * returns, never from HTML, and only http(s) or same-site links are followed. Text that
 * people or documents wrote goes through userText (chat-core.js) into dir="auto"
 * elements, so that a bidi override cannot reverse what surrounds it.
 */
(function () {
  "use strict";

  const KEY = "export-assistant-helpdesk-key";
  const { userText } = window.ExportAssistant;
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function safeLink(href, text) {
    if (!href || !(/^https?:\/\//i.test(href) || href.startsWith("/"))) return null;
    return el("a", { href, textContent: text, target: "_blank", rel: "noopener noreferrer" });
  }

  function status(message) {
    $("status").textContent = message || "";
    $("status").hidden = !message;
  }

  // ------------------------------------------------------------ the key

  function showDesk() {
    const open = Boolean(sessionStorage.getItem(KEY));
    $("key-form").hidden = open;
    $("desk").hidden = !open;
    $("forget-key").hidden = !open;
    if (open) loadReviews();
    else $("api-key").focus();
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    status("");
    showDesk();
  });

  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showDesk();
  });

  async function api(path, options) {
    const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "", Accept: "application/json" };
    if (options && options.body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, Object.assign({}, options, { headers }));
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      showDesk();
      throw new Error("That API key was refused; enter a valid one.");
    }
    if (!response.ok) {
      throw new Error((body.error && body.error.message) || `The server answered ${response.status}.`);
    }
    return body;
  }

  async function busy(button, work) {
    button.disabled = true;
    status("");
    try {
      await work();
    } catch (error) {
      status(error.message);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ search

  function marked(text, spans) {
    const chars = Array.from(text); // the API counts code points
    const part = (from, to) => userText(chars.slice(from, to).join(""));
    const out = el("p", { className: "hd-passage", dir: "auto" });
    let last = 0;
    for (const [start, end] of spans) {
      out.append(part(last, start), el("mark", { textContent: part(start, end) }));
      last = end;
    }
    out.append(part(last));
    return out;
  }

  function resultItem(result) {
    const heading = result.section ? `${result.title} — ${result.section}` : result.title;
    const meta = [result.publisher, result.date, result.jurisdiction, result.language].filter(Boolean);
    return el(
      "li",
      { className: "hd-result" },
      el("h3", { dir: "auto", textContent: userText(heading || result.source) }),
      el("p", { className: "hd-meta", textContent: meta.join(" · ") }),
      marked(result.snippet, result.highlights),
      el(
        "p",
        { className: "hd-links" },
        safeLink(result.url, "Official source"),
        safeLink(result.source_url, "Passage in the library"),
      ),
    );
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of ["q", "jurisdiction", "topic", "lang", "k"]) {
      const value = $(name).value.trim();
      if (value) params.set(name, value);
    }
    busy(event.submitter || $("search-form").querySelector("button"), async () => {
      const body = await api(`/api/helpdesk/search?${params}`);
      const list = $("results");
      list.replaceChildren(...body.results.map(resultItem));
      if (!body.results.length) list.append(el("li", { textContent: "No passage matches." }));
    });
  });

  // ------------------------------------------------------------ suggested reply

  $("suggest-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) return;
    busy(event.submitter || $("suggest-form").querySelector("button"), async () => {
      const body = await api("/api/helpdesk/suggest", {
        method: "POST",
        body: JSON.stringify({ question }),
      });
      $("reply").value = body.reply;
      $("refused").hidden = !body.refused;
      $("copied").textContent = "";
      $("suggestion").hidden = false;
    });
  });

  $("copy").addEventListener("click", async () => {
    const text = $("reply").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      $("reply").select(); // without clipboard access (plain http): the old way
      document.execCommand("copy");
    }
    $("copied").textContent = "Copied.";
  });

  // ------------------------------------------------------------ reviews

  function reviewItem(review) {
    const when = new Date(review.rated_at).toLocaleString();
    return el(
      "li",
      { className: "hd-review" },
      el("p", {
        className: "hd-meta",
        textContent: `${when} · ${review.language} · turn ${review.turn}` + (review.downs > 1 ? ` · ${review.downs} answers rated down` : ""),
      }),
      el("p", { className: "hd-question", dir: "auto", textContent: userText(review.question) }),
      el("p", { className: "hd-answer", dir: "auto", textContent: userText(review.answer) }),
      review.comment ? el("blockquote", { dir: "auto", textContent: userText(review.comment) }) : null,
      el(
        "p",
        { className: "hd-links" },
        safeLink(`/api/conversations/${encodeURIComponent(review.conversation_id)}`, "Whole conversation"),
      ),
    );
  }

  function errorItem(error) {
    const when = new Date(error.received_at).toLocaleString();
    const about = error.message_id ? `message ${error.message_id}` : "webhook";
    return el(
      "li",
      { className: "hd-review" },
      el("p", { className: "hd-meta", textContent: `${when} · ${about} · number ${error.business || "?"}` }),
      el("p", { className: "hd-question", textContent: `${error.code ?? "no code"}: ${error.title}` }),
      error.details ? el("p", { className: "hd-answer", textContent: error.details }) : null,
    );
  }

  function loadReviews() {
    return busy($("refresh-reviews"), async () => {
      const reviews = await api("/api/helpdesk/reviews?limit=50");
      $("reviews").replaceChildren(...reviews.map(reviewItem));
      $("no-reviews").hidden = reviews.length > 0;
      const errors = await api("/api/helpdesk/whatsapp-errors?limit=50");
      $("wa-error-count").textContent = `${errors.count} reported in all; the latest ${errors.errors.length} below.`;
      $("wa-errors").replaceChildren(...errors.errors.map(errorItem));
    });
  }

  $("refresh-reviews").addEventListener("click", loadReviews);

  showDesk();
})();
