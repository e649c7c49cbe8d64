/* Export Assistant — the helpdesk page: search with highlights, suggested replies, reviews,
 * the errors Meta reported for WhatsApp; the desk's own guides (upload, replace, delete),
 * unanswered questions, stale sources.
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
    if (open) {
      loadReviews();
      loadGuides();
      loadAudit();
    } else $("api-key").focus();
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

  // The response of a call with the key; an Error with the server's message unless 2xx.
  async function request(path, options) {
    const headers = { "X-API-Key": sessionStorage.getItem(KEY) || "", Accept: "application/json" };
    const body = options && options.body;
    if (body && !(body instanceof FormData)) headers["Content-Type"] = "application/json";
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      showDesk();
      throw new Error("That API key was refused; enter a valid one.");
    }
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new Error((error.error && error.error.message) || `The server answered ${response.status}.`);
    }
    return response;
  }

  async function api(path, options) {
    const response = await request(path, options);
    return response.json().catch(() => ({}));
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
      el("p", { className: "hd-question", dir: "auto", textContent: userText(`${error.code ?? "no code"}: ${error.title}`) }),
      error.details ? el("p", { className: "hd-answer", dir: "auto", textContent: userText(error.details) }) : null,
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

  // ------------------------------------------------------------ your guides

  const STATUS = {
    queued: "Queued",
    searchable: "Searchable by keywords; embedding…",
    ready: "Ready",
    failed: "Failed",
  };
  let polling = null;

  function when(iso) {
    return new Date(iso).toLocaleString();
  }

  function guideItem(guide) {
    const state = el("span", { className: "hd-status", textContent: STATUS[guide.status] || guide.status });
    state.dataset.status = guide.status;
    const replace = el("button", { type: "button", textContent: "Replace…" });
    replace.addEventListener("click", () => chooseReplacement(guide));
    const remove = el("button", { type: "button", textContent: "Delete" });
    remove.addEventListener("click", () => deleteGuide(guide, remove));
    const item = el(
      "li",
      { className: "hd-result" },
      el("h3", { dir: "auto", textContent: userText(guide.title || guide.filename) }),
      el("p", {
        className: "hd-meta",
        textContent: [
          guide.filename,
          guide.date,
          guide.language,
          `${guide.chunks} passages`,
          `version ${guide.version}`,
          `added by ${guide.added_by} ${when(guide.added_at)}`,
          guide.version > 1 ? `replaced by ${guide.updated_by} ${when(guide.updated_at)}` : null,
        ]
          .filter(Boolean)
          .join(" · "),
      }),
      el("p", { className: "hd-meta" }, state, guide.reason ? ` ${guide.reason}` : null),
      el("p", { className: "hd-row-actions" }, replace, remove, safeLink(`/api/sources/${guide.source}`, "Read it")),
    );
    item.dataset.id = guide.id;
    return item;
  }

  function corpusItem(doc) {
    return el("li", { dir: "auto", textContent: userText([doc.title || doc.source, doc.date, doc.source].filter(Boolean).join(" · ")) });
  }

  async function loadGuides() {
    const body = await api("/api/helpdesk/documents").catch((error) => status(error.message));
    if (!body) return;
    $("uploads").replaceChildren(...body.uploads.map(guideItem));
    $("no-uploads").hidden = body.uploads.length > 0;
    $("corpus").replaceChildren(...body.corpus.map(corpusItem));
    const limits = body.limits;
    $("upload-limits").textContent =
      `Up to ${Math.floor(limits.max_bytes / 1048576 * 10) / 10} MB a file, ${limits.max_files} files in a ZIP, ` +
      `${limits.max_documents} guides in all.`;
    const working = body.uploads.some((guide) => guide.status === "queued" || guide.status === "searchable");
    clearTimeout(polling);
    if (working) polling = setTimeout(loadGuides, 1500);
  }

  function showResult(lines) {
    $("upload-result").replaceChildren(...lines.map((line) => el("p", { textContent: line })));
    $("upload-result").hidden = lines.length === 0;
  }

  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = $("upload-form");
    busy(event.submitter || form.querySelector("button"), async () => {
      showResult([]);
      try {
        const body = await api("/api/helpdesk/documents", { method: "POST", body: new FormData(form) });
        showResult(body.rejected.map((r) => `Not added: ${r.filename}: ${r.reason}`));
        form.reset();
      } catch (error) {
        showResult([error.message]);
      }
      await loadGuides();
      loadAudit();
    });
  });

  let replacing = null;

  function chooseReplacement(guide) {
    replacing = guide;
    $("replace-file").value = "";
    $("replace-file").click();
  }

  $("replace-file").addEventListener("change", async () => {
    const file = $("replace-file").files[0];
    if (!file || !replacing) return;
    const form = new FormData();
    form.append("file", file);
    showResult([]);
    try {
      await api(`/api/helpdesk/documents/${encodeURIComponent(replacing.id)}`, { method: "PUT", body: form });
    } catch (error) {
      showResult([error.message]);
    }
    replacing = null;
    await loadGuides();
    loadAudit();
  });

  function deleteGuide(guide, button) {
    if (!window.confirm(`Delete “${guide.title || guide.filename}”? It will no longer be cited.`)) return;
    busy(button, async () => {
      await api(`/api/helpdesk/documents/${encodeURIComponent(guide.id)}`, { method: "DELETE" });
      await loadGuides();
      loadAudit();
    });
  }

  // ------------------------------------------------------------ unanswered questions

  function counts(map) {
    return Object.entries(map)
      .map(([name, n]) => `${name} ${n}`)
      .join(", ");
  }

  function questionItem(q) {
    return el(
      "li",
      { className: "hd-review" },
      el("p", { className: "hd-meta", textContent: [when(q.asked_at), q.channel, q.language, q.reasons.join(", ")].join(" · ") }),
      el("p", { className: "hd-question", textContent: userText(q.question), dir: "auto" }),
      el("p", { className: "hd-answer", textContent: userText(q.answer), dir: "auto" }),
      q.comment ? el("blockquote", { textContent: userText(q.comment), dir: "auto" }) : null,
    );
  }

  function topicItem(topic) {
    const questions = el("ol", { className: "hd-reviews" });
    const details = el(
      "details",
      { className: "hd-topic" },
      el("summary", { textContent: `${userText(topic.label)} (${topic.count})`, dir: "auto" }),
      questions,
    );
    details.addEventListener("toggle", () => {
      if (details.open && !questions.children.length) questions.append(...topic.questions.map(questionItem));
    });
    return el(
      "li",
      { className: "hd-result" },
      details,
      el("p", {
        className: "hd-meta",
        textContent: `newest ${when(topic.newest)} · ${counts(topic.languages)} · ${counts(topic.channels)} · ${counts(topic.reasons)}`,
      }),
      el("p", { className: "hd-meta", textContent: `e.g. ${topic.examples.map(userText).join(" | ")}`, dir: "auto" }),
    );
  }

  function period() {
    const params = new URLSearchParams();
    if ($("report-since").value) params.set("since", $("report-since").value);
    if ($("report-until").value) params.set("until", $("report-until").value);
    return params;
  }

  $("report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy(event.submitter || $("report-form").querySelector("button"), async () => {
      const report = await api(`/api/helpdesk/report?${period()}`);
      $("report-summary").textContent =
        `${report.questions} questions in ${report.topics.length} topics, ${report.since} to ${report.until}.`;
      $("report-topics").replaceChildren(...report.topics.map(topicItem));
    });
  });

  $("report-csv").addEventListener("click", () => {
    busy($("report-csv"), async () => {
      const response = await request(`/api/helpdesk/report.csv?${period()}`);
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: "unanswered-questions.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    });
  });

  // ------------------------------------------------------------ freshness and changes

  $("freshness-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if ($("max-age").value) params.set("max_age_days", $("max-age").value);
    busy(event.submitter || $("freshness-form").querySelector("button"), async () => {
      const body = await api(`/api/helpdesk/freshness?${params}`);
      $("stale").replaceChildren(
        ...body.sources.map((s) =>
          el("li", {
            dir: "auto",
            textContent: `${userText(s.title || s.source)} — dated ${s.date} (${s.age_days} days) · cited ${s.cited} times since ${body.since}${s.uploaded ? " · your guide" : ""}`,
          }),
        ),
      );
      if (!body.sources.length) $("stale").append(el("li", { textContent: `No source older than ${body.max_age_days} days.` }));
    });
  });

  async function loadAudit() {
    const entries = await api("/api/helpdesk/audit?limit=50").catch((error) => status(error.message));
    if (!entries) return;
    $("audit").replaceChildren(
      ...entries.map((e) =>
        el("li", { dir: "auto", textContent: `${when(e.at)} · ${e.key_name} · ${e.action} · ${userText(e.title || e.filename)} (version ${e.version})` }),
      ),
    );
  }

  showDesk();
})();
