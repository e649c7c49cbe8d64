/* Export Assistant — the helpdesk page: search with highlights, suggested replies, reviews,
 * the errors Meta reported for WhatsApp; the desk's own guides (upload, replace, delete),
 * unanswered questions, stale sources; the advisers' inbox (questions handed off, replies
 * with cited passages) and the approved answers. One tab per group (WAI-ARIA tabs: arrow keys move
 * between them; the URL's #name keeps the open one).
 *
 * The page speaks the chat page's languages (strings in helpdesk-strings.js; the choice is
 * shared with the chat page). What was loaded is kept, so that a change of language
 * redraws it without asking the server again.
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
  const LANG = "ea.lang"; // the chat page's key: one choice for both pages
  const { STRINGS, applyStrings, pickLanguage, translate, userText } = window.ExportAssistant;
  const $ = (id) => document.getElementById(id);

  let lang = pickLanguage([new URLSearchParams(location.search).get("lang"), stored(LANG)]);
  const t = (key, vars) => translate(lang, key, vars);
  const when = (iso) => new Date(iso).toLocaleString(lang);
  // A code the server sends (a status, an action), in words when the page has them.
  const named = (prefix, code) => (`${prefix}.${code}` in STRINGS.en ? t(`${prefix}.${code}`) : code);

  function stored(key) {
    try {
      return JSON.parse(localStorage.getItem(key));
    } catch (_) {
      return null;
    }
  }

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

  // ------------------------------------------------------------ what is shown, redrawn on a change of language

  const shown = new Map(); // name -> [draw, data]

  function show(name, draw, data) {
    shown.set(name, [draw, data]);
    draw(data);
  }

  function setLanguage(code) {
    lang = code;
    document.documentElement.lang = code;
    $("language").value = code;
    document.title = t("hd.pageTitle");
    applyStrings(document.body, code);
    for (const [draw, data] of shown.values()) draw(data);
  }

  $("language").addEventListener("change", () => {
    try {
      localStorage.setItem(LANG, JSON.stringify($("language").value));
    } catch (_) {
      /* private mode: the choice lasts as long as the page */
    }
    setLanguage($("language").value);
  });

  // ------------------------------------------------------------ tabs

  const tabs = [...document.querySelectorAll('#desk [role="tab"]')];
  const tabName = (tab) => tab.id.replace(/^tab-/, "");

  function selectTab(tab, { focus = false } = {}) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, "", `#${tabName(tab)}`);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      const to = {
        ArrowRight: at + 1,
        ArrowDown: at + 1,
        ArrowLeft: at - 1,
        ArrowUp: at - 1,
        Home: 0,
        End: tabs.length - 1,
      }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      selectTab(tabs[(to + tabs.length) % tabs.length], { focus: true });
    });
  }
  selectTab(tabs.find((tab) => `#${tabName(tab)}` === location.hash) || tabs[0]);

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
      loadInbox();
      loadApproved();
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
      throw new Error(t("hd.keyRefused"));
    }
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new Error(
        (error.error && error.error.message) || t("hd.serverAnswered", { status: response.status }),
      );
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
        safeLink(result.url, t("hd.official")),
        safeLink(result.source_url, t("hd.inLibrary")),
      ),
    );
  }

  function drawResults(results) {
    $("results").replaceChildren(...results.map(resultItem));
    if (!results.length) $("results").append(el("li", { textContent: t("hd.noMatch") }));
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
      show("results", drawResults, body.results);
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
    $("copied").textContent = t("hd.copied");
  });

  // ------------------------------------------------------------ reviews

  function reviewItem(review) {
    const meta = [when(review.rated_at), review.language, t("hd.turn", { n: review.turn })];
    if (review.downs > 1) meta.push(t("hd.downs", { n: review.downs }));
    return el(
      "li",
      { className: "hd-review" },
      el("p", { className: "hd-meta", textContent: meta.join(" · ") }),
      el("p", { className: "hd-question", dir: "auto", textContent: userText(review.question) }),
      el("p", { className: "hd-answer", dir: "auto", textContent: userText(review.answer) }),
      review.comment ? el("blockquote", { dir: "auto", textContent: userText(review.comment) }) : null,
      el(
        "p",
        { className: "hd-links" },
        safeLink(
          `/api/conversations/${encodeURIComponent(review.conversation_id)}`,
          t("hd.wholeConversation"),
        ),
      ),
    );
  }

  function errorItem(error) {
    const about = error.message_id
      ? t("hd.aboutMessage", { id: error.message_id })
      : t("hd.aboutWebhook");
    const code = error.code ?? t("hd.noCode");
    return el(
      "li",
      { className: "hd-review" },
      el("p", {
        className: "hd-meta",
        textContent: [when(error.received_at), about, t("hd.number", { n: error.business || "?" })].join(
          " · ",
        ),
      }),
      el("p", { className: "hd-question", dir: "auto", textContent: userText(`${code}: ${error.title}`) }),
      error.details
        ? el("p", { className: "hd-answer", dir: "auto", textContent: userText(error.details) })
        : null,
    );
  }

  function drawReviews(reviews) {
    $("reviews").replaceChildren(...reviews.map(reviewItem));
    $("no-reviews").hidden = reviews.length > 0;
  }

  function drawErrors(errors) {
    $("wa-error-count").textContent = t("hd.waErrorCount", {
      count: errors.count,
      shown: errors.errors.length,
    });
    $("wa-errors").replaceChildren(...errors.errors.map(errorItem));
  }

  function loadReviews() {
    return busy($("refresh-reviews"), async () => {
      show("reviews", drawReviews, await api("/api/helpdesk/reviews?limit=50"));
      show("errors", drawErrors, await api("/api/helpdesk/whatsapp-errors?limit=50"));
    });
  }

  $("refresh-reviews").addEventListener("click", loadReviews);

  // ------------------------------------------------------------ your guides

  let polling = null;

  function guideItem(guide) {
    const name = guide.title || guide.filename;
    const state = el("span", {
      className: "hd-status",
      textContent: named("hd.status", guide.status),
    });
    state.dataset.status = guide.status;
    // Visible text says what; the accessible name also says which guide.
    const replace = el("button", { type: "button", textContent: t("hd.replace") });
    replace.setAttribute("aria-label", t("hd.replaceWhich", { title: name }));
    replace.addEventListener("click", () => chooseReplacement(guide));
    const remove = el("button", { type: "button", textContent: t("hd.delete") });
    remove.setAttribute("aria-label", t("hd.deleteWhich", { title: name }));
    remove.addEventListener("click", () => deleteGuide(guide, remove));
    const item = el(
      "li",
      { className: "hd-result" },
      el("h3", { dir: "auto", textContent: userText(name) }),
      el("p", {
        className: "hd-meta",
        textContent: [
          guide.filename,
          guide.date,
          guide.language,
          t("hd.passages", { n: guide.chunks }),
          t("hd.version", { n: guide.version }),
          t("hd.addedBy", { who: guide.added_by, when: when(guide.added_at) }),
          guide.version > 1
            ? t("hd.replacedBy", { who: guide.updated_by, when: when(guide.updated_at) })
            : null,
        ]
          .filter(Boolean)
          .join(" · "),
      }),
      el("p", { className: "hd-meta" }, state, guide.reason ? ` ${guide.reason}` : null),
      el(
        "p",
        { className: "hd-row-actions" },
        replace,
        remove,
        safeLink(`/api/sources/${guide.source}`, t("hd.readIt")),
      ),
    );
    item.dataset.id = guide.id;
    return item;
  }

  function corpusItem(doc) {
    return el("li", { dir: "auto", textContent: userText([doc.title || doc.source, doc.date, doc.source].filter(Boolean).join(" · ")) });
  }

  function drawGuides(body) {
    $("uploads").replaceChildren(...body.uploads.map(guideItem));
    $("no-uploads").hidden = body.uploads.length > 0;
    $("corpus").replaceChildren(...body.corpus.map(corpusItem));
    const limits = body.limits;
    $("upload-limits").textContent = t("hd.limits", {
      mb: (Math.floor((limits.max_bytes / 1048576) * 10) / 10).toLocaleString(lang),
      files: limits.max_files,
      documents: limits.max_documents,
    });
  }

  async function loadGuides() {
    const body = await api("/api/helpdesk/documents").catch((error) => status(error.message));
    if (!body) return;
    show("guides", drawGuides, body);
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
        showResult(body.rejected.map((r) => t("hd.notAdded", { file: r.filename, reason: r.reason })));
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
    if (!window.confirm(t("hd.confirmDelete", { title: guide.title || guide.filename }))) return;
    busy(button, async () => {
      await api(`/api/helpdesk/documents/${encodeURIComponent(guide.id)}`, { method: "DELETE" });
      await loadGuides();
      loadAudit();
    });
  }

  // ------------------------------------------------------------ unanswered questions

  function counts(map, prefix) {
    return Object.entries(map)
      .map(([name, n]) => `${prefix ? named(prefix, name) : name} ${n}`)
      .join(", ");
  }

  function questionItem(q) {
    return el(
      "li",
      { className: "hd-review" },
      el("p", { className: "hd-meta", textContent: [when(q.asked_at), q.channel, q.language, q.reasons.map((r) => named("hd.reason", r)).join(", ")].join(" · ") }),
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
        textContent: [
          t("hd.newest", { when: when(topic.newest) }),
          counts(topic.languages),
          counts(topic.channels),
          counts(topic.reasons, "hd.reason"),
        ].join(" · "),
      }),
      el("p", {
        className: "hd-meta",
        textContent: t("hd.examples", { examples: topic.examples.map(userText).join(" | ") }),
        dir: "auto",
      }),
    );
  }

  function drawReport(report) {
    $("report-summary").textContent = t("hd.reportSummary", {
      questions: report.questions,
      topics: report.topics.length,
      since: report.since,
      until: report.until,
    });
    const handoffs = report.handoffs;
    const wait = handoffs.median_first_reply_seconds;
    $("report-advisers").textContent = [
      t("hd.reportHandoffs", { n: handoffs.count, unanswered: handoffs.unanswered }),
      wait == null ? null : t("hd.reportWait", { hours: (wait / 3600).toFixed(1) }),
      t("hd.reportApproved", { n: report.approved_answers_served }),
      report.left_out ? t("hd.reportLeftOut", { n: report.left_out }) : null,
    ]
      .filter(Boolean)
      .join(" · ");
    $("report-topics").replaceChildren(...report.topics.map(topicItem));
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
      show("report", drawReport, await api(`/api/helpdesk/report?${period()}`));
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

  function drawStale(body) {
    $("stale").replaceChildren(
      ...body.sources.map((s) =>
        el("li", {
          dir: "auto",
          textContent: [
            t("hd.stale", {
              title: userText(s.title || s.source),
              date: s.date,
              days: s.age_days,
              cited: s.cited,
              since: body.since,
            }),
            s.uploaded ? t("hd.yourGuide") : null,
          ]
            .filter(Boolean)
            .join(" · "),
        }),
      ),
    );
    if (!body.sources.length) $("stale").append(el("li", { textContent: t("hd.noStale", { days: body.max_age_days }) }));
  }

  $("freshness-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if ($("max-age").value) params.set("max_age_days", $("max-age").value);
    busy(event.submitter || $("freshness-form").querySelector("button"), async () => {
      show("stale", drawStale, await api(`/api/helpdesk/freshness?${params}`));
    });
  });

  function drawAudit(entries) {
    $("audit").replaceChildren(
      ...entries.map((e) =>
        el("li", {
          dir: "auto",
          textContent: [
            when(e.at),
            e.key_name,
            named("hd.action", e.action),
            `${userText(e.title || e.filename)} (${t("hd.version", { n: e.version })})`,
          ].join(" · "),
        }),
      ),
    );
  }

  async function loadAudit() {
    const entries = await api("/api/helpdesk/audit?limit=50").catch((error) => status(error.message));
    if (entries) show("audit", drawAudit, entries);
  }


  // ------------------------------------------------------------ advisers: the inbox

  const OPEN = ["new", "assigned"];
  let current = null; // the hand-off open below the inbox
  let chosen = []; // the passages ticked to cite, in the order of their numbers
  let candidates = []; // passages offered to cite: the suggestion's, then search results

  function inboxParams() {
    const params = new URLSearchParams({ limit: "100" });
    const wanted = $("inbox-status").value;
    for (const value of wanted === "open" ? OPEN : wanted ? [wanted] : []) params.append("status", value);
    for (const [id, name] of [
      ["inbox-language", "language"],
      ["inbox-channel", "channel"],
      ["inbox-older", "older_than_hours"],
    ]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    return params;
  }

  function age(seconds) {
    const hours = Math.floor(seconds / 3600);
    return hours >= 48 ? t("hd.ageDays", { n: Math.floor(hours / 24) }) : t("hd.ageHours", { n: hours });
  }

  function handoffMeta(h) {
    return [
      named("hd.handoff", h.status),
      age(h.age_seconds),
      h.channel,
      h.language,
      named("hd.reason", h.reason),
      h.assigned_to ? t("hd.assignedTo", { who: h.assigned_to }) : null,
    ]
      .filter(Boolean)
      .join(" · ");
  }

  function handoffItem(h) {
    const open = el("button", { type: "button", textContent: t("hd.openHandoff") });
    open.setAttribute("aria-label", t("hd.openWhich", { question: userText(h.question).slice(0, 80) }));
    open.addEventListener("click", () => openHandoff(h.id));
    const item = el(
      "li",
      { className: "hd-result" },
      el("p", { className: "hd-meta", textContent: handoffMeta(h) }),
      el("p", { className: "hd-question", dir: "auto", textContent: userText(h.question) }),
      el("p", { className: "hd-row-actions" }, open),
    );
    item.dataset.id = h.id;
    return item;
  }

  function drawInbox(body) {
    $("inbox").replaceChildren(...body.handoffs.map(handoffItem));
    $("inbox-empty").hidden = body.handoffs.length > 0;
    $("inbox-counts").textContent = Object.entries(body.counts)
      .map(([state, n]) => `${named("hd.handoff", state)} ${n}`)
      .join(" · ");
  }

  function loadInbox() {
    return busy($("inbox-form").querySelector("button"), async () => {
      show("inbox", drawInbox, await api(`/api/helpdesk/handoffs?${inboxParams()}`));
    });
  }

  $("inbox-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadInbox();
  });

  function replyItem(reply) {
    const delivery = reply.delivery;
    return el(
      "li",
      { className: "hd-review" },
      el("p", {
        className: "hd-meta",
        textContent: [when(reply.created_at), reply.author, named("hd.delivery", delivery.state)].join(" · "),
      }),
      el("p", { className: "hd-answer", dir: "auto", textContent: userText(reply.text) }),
      delivery.detail ? el("p", { className: "hd-warn", textContent: delivery.detail }) : null,
    );
  }

  function turnItem(turn) {
    return el(
      "li",
      { className: "hd-review" },
      el("p", { className: "hd-question", dir: "auto", textContent: userText(turn.question) }),
      el("p", { className: "hd-answer", dir: "auto", textContent: userText(turn.answer) }),
    );
  }

  function drawHandoff(h) {
    current = h;
    $("handoff").hidden = false;
    $("handoff-meta").textContent = handoffMeta(h);
    $("handoff-conversation").replaceChildren(...h.conversation.map(turnItem));
    $("handoff-replies").replaceChildren(...h.staff_replies.map(replyItem));
    $("handoff-take").hidden = h.status !== "new";
    $("handoff-close").hidden = h.status === "closed";
  }

  async function openHandoff(id) {
    const body = await api(`/api/helpdesk/handoffs/${encodeURIComponent(id)}`).catch((error) =>
      status(error.message),
    );
    if (!body) return;
    chosen = [];
    candidates = [];
    drawCandidates();
    $("reply-text").value = "";
    show("handoff", drawHandoff, body);
    $("handoff-heading").focus();
  }

  function setStatus(value, button) {
    busy(button, async () => {
      const body = await api(`/api/helpdesk/handoffs/${encodeURIComponent(current.id)}/status`, {
        method: "POST",
        body: JSON.stringify({ status: value }),
      });
      show("handoff", drawHandoff, body);
      loadInbox();
    });
  }

  $("handoff-take").addEventListener("click", () => setStatus("assigned", $("handoff-take")));
  $("handoff-close").addEventListener("click", () => setStatus("closed", $("handoff-close")));

  // Passages to cite: a tick gives the next number; an untick renumbers the rest.
  function candidateItem(ref) {
    const at = chosen.indexOf(ref);
    const box = el("input", { type: "checkbox", checked: at >= 0 });
    box.addEventListener("change", () => {
      if (box.checked) chosen.push(ref);
      else chosen = chosen.filter((other) => other !== ref);
      drawCandidates();
    });
    const heading = ref.section ? `${ref.title} — ${ref.section}` : ref.title || ref.source;
    return el(
      "li",
      {},
      el(
        "label",
        { className: "hd-cite" },
        box,
        el("strong", { textContent: at >= 0 ? `[${at + 1}] ` : "" }),
        el("span", { dir: "auto", textContent: userText(heading) }),
      ),
      el("p", { className: "hd-passage", dir: "auto", textContent: userText(ref.snippet).slice(0, 300) }),
    );
  }

  function drawCandidates() {
    $("cite-list").replaceChildren(...candidates.map(candidateItem));
  }

  function offer(refs) {
    const known = new Set(candidates.map((c) => `${c.source}|${c.section}|${c.snippet}`));
    for (const ref of refs) {
      const key = `${ref.source}|${ref.section}|${ref.snippet}`;
      if (!known.has(key)) candidates.push(ref);
      known.add(key);
    }
    drawCandidates();
  }

  $("reply-suggest").addEventListener("click", () => {
    busy($("reply-suggest"), async () => {
      const body = await api("/api/helpdesk/suggest", {
        method: "POST",
        body: JSON.stringify({ question: current.question }),
      });
      offer(body.citations);
      chosen = candidates.filter((c) => body.citations.some((s) => s.source === c.source && s.snippet === c.snippet));
      // The suggestion's text with its own numbers, which are the ticked passages' order.
      $("reply-text").value = body.refused ? "" : body.reply.split(/\n\n(?=\S+:\n\[1\])/)[0];
      drawCandidates();
    });
  });

  $("cite-search").addEventListener("click", () => {
    const q = $("cite-q").value.trim();
    if (!q) return;
    busy($("cite-search"), async () => {
      const body = await api(`/api/helpdesk/search?${new URLSearchParams({ q, k: "8" })}`);
      offer(body.results);
    });
  });

  $("approve").addEventListener("change", () => {
    $("approve-fields").hidden = !$("approve").checked;
    if ($("approve").checked && !$("approve-review").value) {
      const year = new Date(Date.now() + 365 * 864e5);
      $("approve-review").value = year.toISOString().slice(0, 10);
    }
  });

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text || !current) return;
    const body = {
      text,
      citations: chosen.map((c) => ({ source: c.source, section: c.section, snippet: c.snippet })),
    };
    if ($("approve").checked) {
      body.approve = {
        paraphrases: $("approve-paraphrases").value.split("\n").map((p) => p.trim()).filter(Boolean),
        review_on: $("approve-review").value,
      };
    }
    busy(event.submitter || $("reply-form").querySelector('button[type="submit"]'), async () => {
      const done = await api(`/api/helpdesk/handoffs/${encodeURIComponent(current.id)}/replies`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      $("reply-text").value = "";
      $("approve").checked = false;
      $("approve-fields").hidden = true;
      show("handoff", drawHandoff, done);
      loadInbox();
      if (body.approve) loadApproved();
    });
  });

  // ------------------------------------------------------------ approved answers

  let editing = null;

  function approvedItem(a) {
    const edit = el("button", { type: "button", textContent: t("hd.edit") });
    edit.addEventListener("click", () => editApproved(a));
    const toggle = el("button", { type: "button", textContent: t(a.retired ? "hd.restore" : "hd.retire") });
    toggle.addEventListener("click", () => saveApproved(a, { retired: !a.retired }, toggle));
    return el(
      "li",
      { className: "hd-result" },
      el("h3", { dir: "auto", textContent: userText(a.question) }),
      el("p", {
        className: "hd-meta",
        textContent: [
          a.languages.join(", "),
          t("hd.uses", { n: a.uses }),
          t("hd.reviewBy", { date: a.review_on }),
          a.review_due ? t("hd.reviewDue") : null,
          a.retired ? t("hd.retired") : null,
          t("hd.approvedBy", { who: a.updated_by }),
        ]
          .filter(Boolean)
          .join(" · "),
      }),
      el("p", { className: "hd-answer", dir: "auto", textContent: userText(Object.values(a.texts)[0]) }),
      el("p", { className: "hd-row-actions" }, edit, toggle),
    );
  }

  function drawApproved(list) {
    $("approved").replaceChildren(...list.map(approvedItem));
    $("approved-empty").hidden = list.length > 0;
  }

  async function loadApproved() {
    const retired = $("approved-retired").checked ? "?retired=true" : "";
    const list = await api(`/api/helpdesk/approved${retired}`).catch((error) => status(error.message));
    if (list) show("approved", drawApproved, list);
  }

  $("approved-retired").addEventListener("change", loadApproved);

  function editApproved(a) {
    editing = a;
    $("approved-form").hidden = false;
    $("approved-question").value = a.question;
    $("approved-paraphrases").value = a.paraphrases.join("\n");
    $("approved-en").value = a.texts.en || "";
    $("approved-fr").value = a.texts.fr || "";
    $("approved-review").value = a.review_on;
    $("approved-question").focus();
  }

  function saveApproved(a, changes, button) {
    const texts = { ...a.texts };
    const body = {
      question: a.question,
      paraphrases: a.paraphrases,
      texts,
      citations: a.citations.map((c) => ({ source: c.source, section: c.section, snippet: c.snippet })),
      review_on: a.review_on,
      retired: a.retired,
      ...changes,
    };
    busy(button, async () => {
      await api(`/api/helpdesk/approved/${encodeURIComponent(a.id)}`, {
        method: "PUT",
        body: JSON.stringify(body),
      });
      $("approved-form").hidden = true;
      editing = null;
      loadApproved();
    });
  }

  $("approved-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!editing) return;
    const texts = {};
    if ($("approved-en").value.trim()) texts.en = $("approved-en").value.trim();
    if ($("approved-fr").value.trim()) texts.fr = $("approved-fr").value.trim();
    for (const [language, text] of Object.entries(editing.texts)) {
      if (!["en", "fr"].includes(language)) texts[language] = text;
    }
    saveApproved(
      editing,
      {
        question: $("approved-question").value.trim(),
        paraphrases: $("approved-paraphrases").value.split("\n").map((p) => p.trim()).filter(Boolean),
        texts,
        review_on: $("approved-review").value,
      },
      event.submitter || $("approved-form").querySelector('button[type="submit"]'),
    );
  });

  $("approved-cancel").addEventListener("click", () => {
    $("approved-form").hidden = true;
    editing = null;
  });

  // A notification's link (#handoff-<id>) opens that hand-off.
  function openLinkedHandoff() {
    const linked = /^#handoff-([0-9a-f]{32})$/.exec(location.hash);
    if (!linked) return;
    $("tab-inbox").click();
    openHandoff(linked[1]);
  }

  setLanguage(lang);
  showDesk();
  openLinkedHandoff();
})();
