/* Export Assistant — the chat, shared by the page (index.html) and the widget (widget.js).
 *
 * window.ExportAssistant = { STRINGS, addStrings, pickLanguage, translate, applyStrings, Api,
 *                            ChatView, watchReadiness, userText }
 *
 * Text that people or documents wrote is shown through userText (control and bidi-override
 * characters made visible as U+FFFD) in elements with dir="auto", which isolates it: a
 * right-to-left override in a question cannot reverse the text around it.
 *
 * No framework, no build step: the server concatenates this file and widget.js into
 * /widget.js, and the page loads it as is.
 */
(function (global) {
  "use strict";
  if (global.ExportAssistant) return;

  const STRINGS = {
    en: {
      title: "Export Assistant",
      tagline: "Export, customs and VAT questions, answered from official sources.",
      question: "Your question",
      placeholder: "Ask about export rules, customs, VAT…",
      send: "Send",
      newConversation: "New conversation",
      recent: "Recent conversations",
      noRecent: "No conversations yet.",
      examples: "Try one of these:",
      example1: "When is an export exempt from EEI filing?",
      example2: "What is the HS code for lithium-ion batteries?",
      example3: "How do I find an overseas agent or distributor?",
      you: "You",
      assistant: "Assistant",
      answered: "Assistant: {text}",
      thinking: "Looking through the sources…",
      sources: "Sources",
      source: "Source {n}",
      copy: "Copy answer",
      copied: "Copied",
      helpful: "Helpful",
      unhelpful: "Not helpful",
      comment: "Tell us more (optional)",
      sendFeedback: "Send feedback",
      thanks: "Thanks for your feedback.",
      close: "Close",
      official: "Official page",
      passage: "Read the passage in full",
      publishedBy: "Published by",
      date: "Date",
      licence: "Licence",
      undated: "undated",
      unreachable: "Cannot reach the server. Check your connection and try again.",
      failed: "The answer failed: {message}",
      retry: "Try again",
      preparing: "Preparing the index…",
      indexing: "Still indexing: {percent} %. Answers use keyword search until it is done.",
      loading: "Starting semantic search; answers use keyword search meanwhile.",
      language: "Language",
      openChat: "Open the export assistant",
      closeChat: "Close the export assistant",
      disclaimer: "Answers quote their sources; check them before you act.",
      askAdviser: "Ask an adviser",
      adviserEmail: "Your e-mail (optional): the reply goes there too",
      sendToAdviser: "Send to an adviser",
      adviserSent: "Sent to an adviser",
      adviserReply: "Reply from an adviser, {date}",
      adviserArrived: "An adviser has replied.",
    },
    fr: {
      title: "Assistant export",
      tagline:
        "Questions d'export, de douane et de TVA, avec réponses tirées de sources officielles.",
      question: "Votre question",
      placeholder: "Posez une question sur l'export, la douane, la TVA…",
      send: "Envoyer",
      newConversation: "Nouvelle conversation",
      recent: "Conversations récentes",
      noRecent: "Aucune conversation pour l'instant.",
      examples: "Essayez par exemple :",
      example1: "Qu'est-ce que la franchise en base de TVA ?",
      example2: "Quel est le code SH des batteries au lithium ?",
      example3: "Quelles mentions doivent figurer dans les conditions générales de vente ?",
      you: "Vous",
      assistant: "Assistant",
      answered: "Assistant : {text}",
      thinking: "Recherche dans les sources…",
      sources: "Sources",
      source: "Source {n}",
      copy: "Copier la réponse",
      copied: "Copié",
      helpful: "Utile",
      unhelpful: "Pas utile",
      comment: "Dites-nous en plus (facultatif)",
      sendFeedback: "Envoyer l'avis",
      thanks: "Merci pour votre avis.",
      close: "Fermer",
      official: "Page officielle",
      passage: "Lire le passage en entier",
      publishedBy: "Publié par",
      date: "Date",
      licence: "Licence",
      undated: "non daté",
      unreachable: "Impossible de joindre le serveur. Vérifiez votre connexion et réessayez.",
      failed: "La réponse a échoué : {message}",
      retry: "Réessayer",
      preparing: "Préparation de l'index…",
      indexing:
        "Indexation en cours : {percent} %. Les réponses utilisent la recherche par mots-clés en attendant.",
      loading:
        "Démarrage de la recherche sémantique ; les réponses utilisent la recherche par mots-clés en attendant.",
      language: "Langue",
      openChat: "Ouvrir l'assistant export",
      closeChat: "Fermer l'assistant export",
      disclaimer: "Les réponses citent leurs sources : vérifiez-les avant d'agir.",
      askAdviser: "Demander à un conseiller",
      adviserEmail: "Votre e-mail (facultatif) : la réponse y sera aussi envoyée",
      sendToAdviser: "Envoyer à un conseiller",
      adviserSent: "Transmise à un conseiller",
      adviserReply: "Réponse d'un conseiller, {date}",
      adviserArrived: "Un conseiller a répondu.",
    },
  };

  /** The first of the user's languages that we have strings for. */
  function pickLanguage(preferred) {
    const wanted = [].concat(
      preferred || [],
      global.navigator ? navigator.languages || [navigator.language] : [],
    );
    for (const tag of wanted) {
      const base = String(tag || "")
        .toLowerCase()
        .split("-")[0];
      if (STRINGS[base]) return base;
    }
    return "en";
  }

  /** Adds a page's own strings ({en: {...}, fr: {...}}) to the table; the helpdesk page's
   * are in helpdesk-strings.js. A key defined twice is a mistake, and an error. */
  function addStrings(tables) {
    for (const [lang, table] of Object.entries(tables)) {
      const into = (STRINGS[lang] = STRINGS[lang] || {});
      for (const [key, text] of Object.entries(table)) {
        if (key in into) throw new Error(`string "${key}" is defined twice`);
        into[key] = text;
      }
    }
  }

  function translate(lang, key, vars) {
    const table = STRINGS[lang] || STRINGS.en;
    let text = table[key] != null ? table[key] : STRINGS.en[key] || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, value);
    return text;
  }

  /** Sets the text, aria-label, title or placeholder of every [data-i18n*] element under root. */
  function applyStrings(root, lang) {
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.textContent = translate(lang, node.dataset.i18n);
    }
    for (const node of root.querySelectorAll("[data-i18n-label]")) {
      node.setAttribute("aria-label", translate(lang, node.dataset.i18nLabel));
      node.title = translate(lang, node.dataset.i18nLabel);
    }
    for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = translate(lang, node.dataset.i18nPlaceholder);
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) node.append(child);
    }
    return node;
  }

  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    copy: [
      ["rect", { x: "8", y: "8", width: "12", height: "12", rx: "2" }],
      ["path", { d: "M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3" }],
    ],
    up: [
      [
        "path",
        {
          d:
            "M7 10v10H3V10zM7 20h10.2a2 2 0 0 0 2-1.6l1.3-6.4A1.7 1.7 0 0 0 18.8 10H14l.7-4" +
            "a1.8 1.8 0 0 0-3.3-1.2L7 10",
        },
      ],
    ],
    chat: [
      [
        "path",
        { d: "M4 4h16a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H10l-5 4v-4H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z" },
      ],
    ],
  };

  function svgElement(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  }

  /** An inline SVG icon (no font or file needed); decorative, the button carries the label. */
  function icon(name, rotate) {
    const svg = svgElement("svg", {
      viewBox: "0 0 24 24",
      width: "20",
      height: "20",
      "aria-hidden": "true",
      focusable: "false",
      fill: "none",
      stroke: "currentColor",
      "stroke-width": "1.8",
      "stroke-linejoin": "round",
    });
    if (rotate) svg.style.transform = "rotate(180deg)";
    for (const [tag, attrs] of ICONS[name]) svg.append(svgElement(tag, attrs));
    return svg;
  }

  const MARGIN = 8; // px kept free between a followed answer and the question form

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  class ApiError extends Error {
    constructor(message, { status = 0, code = null, unreachable = false } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.unreachable = unreachable;
    }
  }

  /** The server's HTTP API. */
  class Api {
    constructor(base) {
      this.base = (base || "").replace(/\/$/, "");
    }

    url(path) {
      return /^https?:/.test(path) ? path : this.base + path;
    }

    async request(path, options) {
      let response;
      try {
        response = await fetch(this.url(path), options);
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new ApiError(error.message, { unreachable: true });
      }
      if (!response.ok) {
        let message = `HTTP ${response.status}`;
        let code = null;
        try {
          const body = await response.json();
          message = (body.error && body.error.message) || message;
          code = body.error && body.error.code;
        } catch (_) {
          /* not JSON: keep the status */
        }
        throw new ApiError(message, { status: response.status, code });
      }
      return response;
    }

    async json(path, body) {
      const options = body
        ? {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(body),
          }
        : { headers: { Accept: "application/json" } };
      return (await this.request(path, options)).json();
    }

    /** A stored conversation with all its turns, read a page at a time. */
    async conversation(id) {
      const path = `/api/conversations/${encodeURIComponent(id)}?limit=100`;
      const conversation = await this.json(path);
      for (let page = conversation; page.next_after != null; ) {
        page = await this.json(`${path}&after=${page.next_after}`);
        conversation.turns.push(...page.turns);
      }
      return conversation;
    }

    /** Pass a question (a turn) to the desk's advisers; the same hand-off when asked again. */
    handOff(body) {
      return this.json("/api/handoffs", body);
    }

    feedback(body) {
      return this.json("/api/feedback", body);
    }

    /** Readiness; a 503 ("preparing") still carries the body. */
    async readiness() {
      let response;
      try {
        response = await fetch(this.url("/readyz"), { headers: { Accept: "application/json" } });
      } catch (error) {
        throw new ApiError(error.message, { unreachable: true });
      }
      return response.json();
    }

    /** POST /api/chat/stream; calls on.delta(text), on.citations(list), on.done(answer). */
    async stream(body, on, signal) {
      const response = await this.request("/api/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal,
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let finished = false;
      const dispatch = (block) => {
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (!data.length) return; // a keep-alive comment
        const payload = JSON.parse(data.join("\n"));
        if (event === "error") throw new ApiError(payload.message, { code: payload.code });
        if (event === "done") finished = true;
        if (on[event]) on[event](payload);
      };
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (error.name === "AbortError") throw error;
          throw new ApiError(error.message, { unreachable: true });
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
      if (buffer.trim()) dispatch(buffer);
      if (!finished) throw new ApiError("the stream ended early", { unreachable: true });
    }
  }

  /** Polls /readyz until the index is complete; calls onChange(text or "") on each change. */
  function watchReadiness(api, lang, onChange, interval = 4000) {
    let stopped = false;
    let timer = null;
    const poll = async () => {
      let text = "";
      let again = true;
      try {
        const ready = await api.readiness();
        const phase = ready.indexing && ready.indexing.phase;
        if (!ready.ready) text = translate(lang(), "preparing");
        else if (["complete", "failed", "off"].includes(phase)) again = false;
        else if (ready.indexing.total)
          text = translate(lang(), "indexing", { percent: ready.indexing.percent });
        else text = translate(lang(), "loading");
      } catch (_) {
        text = translate(lang(), "unreachable");
      }
      if (stopped) return;
      onChange(text);
      if (again) timer = setTimeout(poll, interval);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  // C0/C1 controls (but tab and newlines), bidi embeddings, overrides and isolates.
  const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;

  /** Text written by people or documents, its control characters neutralised. */
  function userText(text) {
    return String(text == null ? "" : text).replace(CONTROLS, "\uFFFD");
  }

  /** An answer's text as nodes: paragraphs, "- " lists, and [n] links to the citations. */
  function renderAnswer(text, citations, onCite) {
    text = userText(text);
    const byN = new Map((citations || []).map((c) => [c.n, c]));
    const inline = (line) => {
      const nodes = [];
      let last = 0;
      for (const match of line.matchAll(/\[(\d+)\]/g)) {
        nodes.push(line.slice(last, match.index));
        const citation = byN.get(Number(match[1]));
        if (citation) {
          nodes.push(
            el(
              "a",
              {
                class: "ea-cite",
                href: citation.source_url,
                "aria-haspopup": "dialog",
                dataset: { n: String(citation.n) },
                onclick: (event) => {
                  if (event.ctrlKey || event.metaKey || event.shiftKey) return;
                  event.preventDefault();
                  onCite(citation, event.currentTarget);
                },
              },
              `[${citation.n}]`,
            ),
          );
        } else {
          nodes.push(match[0]);
        }
        last = match.index + match[0].length;
      }
      nodes.push(line.slice(last));
      return nodes;
    };
    const out = [];
    let list = null;
    for (const block of text.split(/\n{2,}/)) {
      const paragraph = [];
      for (const line of block.split("\n")) {
        if (/^\s*[-•]\s+/.test(line)) {
          if (paragraph.length) out.push(el("p", { dir: "auto" }, paragraph.splice(0)));
          if (!list) out.push((list = el("ul")));
          list.append(el("li", { dir: "auto" }, inline(line.replace(/^\s*[-•]\s+/, ""))));
        } else if (line.trim()) {
          list = null;
          if (paragraph.length) paragraph.push(el("br"));
          paragraph.push(...inline(line));
        }
      }
      if (paragraph.length) out.push(el("p", { dir: "auto" }, paragraph));
      list = null;
    }
    return out;
  }

  /** The numbered list items of ``citations``, each opening its card. */
  function sourceItems(citations, cite) {
    return (citations || []).map((c) =>
      el(
        "li",
        { value: String(c.n) },
        el(
          "a",
          {
            href: c.source_url,
            class: "ea-source",
            dir: "auto",
            "aria-haspopup": "dialog",
            onclick: (event) => {
              if (event.ctrlKey || event.metaKey || event.shiftKey) return;
              event.preventDefault();
              cite(c, event.currentTarget);
            },
          },
          userText(c.section && c.section !== c.title ? `${c.title} — ${c.section}` : c.title),
        ),
      ),
    );
  }

  function plainAnswer(answer, base) {
    const lines = [answer.answer];
    if (answer.citations && answer.citations.length) {
      lines.push("", "Sources:");
      for (const c of answer.citations) {
        const heading = c.section && c.section !== c.title ? `${c.title} — ${c.section}` : c.title;
        lines.push(`[${c.n}] ${heading}: ${c.url || new URL(c.source_url, base).href}`);
      }
    }
    return lines.join("\n");
  }

  async function copyText(text) {
    if (navigator.clipboard && global.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = el("textarea", { class: "ea-offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }

  /**
   * One conversation: the turns, the question form and the citation card.
   * options: { api, lang: () => code, examples: bool, onConversation(id, title) }
   */
  class ChatView {
    constructor(container, options) {
      this.api = options.api;
      this.lang = options.lang;
      this.onConversation = options.onConversation || (() => {});
      this.conversationId = null;
      this.controller = null;
      this.returnFocus = null;
      this.turns = new Map(); // turn number -> its view, for the advisers' replies
      this.events = null; // the EventSource of the advisers' replies, while one is awaited
      this.lastReply = 0;
      this.showExamples = Boolean(options.examples);
      const inputId = nextId("ea-question");
      const cardTitle = nextId("ea-card-title");

      this.log = el("div", { class: "ea-log" });
      // Screen readers hear each answer once, whole, when it is done (not every streamed
      // piece): its text is put here. Failures are alerts of their own.
      this.announcer = el("div", { class: "ea-sr", role: "status", "aria-live": "polite" });
      this.examples = el(
        "div",
        { class: "ea-examples", hidden: !this.showExamples },
        el("p", { dataset: { i18n: "examples" } }),
        el(
          "ul",
          {},
          ["example1", "example2", "example3"].map((key) =>
            el(
              "li",
              {},
              el("button", {
                type: "button",
                class: "ea-example",
                dataset: { i18n: key },
                onclick: (event) => this.ask(event.currentTarget.textContent),
              }),
            ),
          ),
        ),
      );
      this.input = el("textarea", {
        id: inputId,
        rows: "2",
        required: true,
        dataset: { i18nPlaceholder: "placeholder" },
        onkeydown: (event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            this.form.requestSubmit();
          }
        },
      });
      this.sendButton = el("button", {
        type: "submit",
        class: "ea-send",
        dataset: { i18n: "send" },
      });
      this.form = el(
        "form",
        {
          class: "ea-form",
          onsubmit: (event) => {
            event.preventDefault();
            const text = this.input.value.trim();
            if (text) this.ask(text);
          },
        },
        el("label", { for: inputId, class: "ea-sr", dataset: { i18n: "question" } }),
        this.input,
        this.sendButton,
      );
      this.card = el("div", {
        class: "ea-card",
        role: "dialog",
        "aria-labelledby": cardTitle,
        hidden: true,
        tabindex: "-1",
        onkeydown: (event) => {
          if (event.key !== "Escape") return;
          event.stopPropagation(); // one Escape closes the card, not the widget around it
          this.closeCard();
        },
      });
      this.cardTitleId = cardTitle;
      this.root = el(
        "div",
        { class: "ea-chat" },
        this.log,
        this.announcer,
        this.examples,
        this.form,
        this.card,
      );
      container.append(this.root);
      this.applyLanguage();
    }

    applyLanguage() {
      applyStrings(this.root, this.lang());
    }

    reset() {
      if (this.controller) this.controller.abort();
      this.unwatch();
      this.turns.clear();
      this.lastReply = 0;
      this.conversationId = null;
      this.log.replaceChildren();
      this.announcer.textContent = "";
      this.examples.hidden = !this.showExamples;
      this.closeCard();
      this.input.value = "";
    }

    /** Show a stored conversation; false when the server does not know it. */
    async load(id) {
      let conversation;
      try {
        conversation = await this.api.conversation(id);
      } catch (error) {
        if (error.status === 404 || error.status === 422) return false;
        this.reset();
        this.log.append(this.errorNote(error, () => this.load(id)));
        return true;
      }
      this.reset();
      this.conversationId = conversation.id;
      let view = null;
      for (const turn of conversation.turns) {
        view = this.turnView(turn.question);
        view.finish({ ...turn, conversation_id: conversation.id });
        view.setRating(turn.feedback);
        this.turns.set(turn.turn, view);
        if (turn.handoff) view.showHandoff(turn.handoff);
      }
      if (conversation.turns.some((turn) => turn.handoff)) this.watch();
      this.examples.hidden = !this.showExamples || conversation.turns.length > 0;
      if (view) this.follow(view.article).stop();
      return true;
    }

    async ask(question) {
      if (this.controller) return; // one answer at a time
      // Focus on the Send button or an example would be lost (disabled, hidden): it goes to
      // the answer. In the question box it stays, for the next question.
      const focused = this.root.getRootNode().activeElement;
      const moveFocus = focused === this.sendButton || this.examples.contains(focused);
      this.examples.hidden = true;
      this.input.value = "";
      const view = this.turnView(question);
      const following = this.follow(view.article);
      if (moveFocus) view.answer.focus({ preventScroll: true });
      this.announcer.textContent = translate(this.lang(), "thinking");
      const controller = (this.controller = new AbortController());
      this.sendButton.disabled = true;
      let text = "";
      let citations = [];
      try {
        await this.api.stream(
          { message: question, conversation_id: this.conversationId || undefined },
          {
            delta: (piece) => {
              text += piece;
              view.draft(text, citations);
            },
            citations: (list) => {
              citations = list;
              view.draft(text, citations);
            },
            done: (answer) => {
              this.conversationId = answer.conversation_id;
              view.finish(answer);
              this.turns.set(answer.turn, view);
              if (answer.handoff) {
                view.showHandoff(answer.handoff);
                this.watch();
              }
              following.update();
              this.announcer.textContent = translate(this.lang(), "answered", {
                text: userText(answer.answer),
              });
              this.onConversation(answer.conversation_id, question);
            },
          },
          controller.signal,
        );
      } catch (error) {
        if (error.name !== "AbortError") {
          this.announcer.textContent = "";
          view.fail(
            this.errorNote(error, () => {
              view.remove();
              this.ask(question);
            }),
          );
          following.update();
        }
      } finally {
        following.stop();
        this.controller = null;
        this.sendButton.disabled = false;
      }
    }

    /**
     * Keeps ``turn`` in view while it grows: its end just above the question form (which
     * stays at the bottom of the screen), its start never pushed above the top, so that a
     * long answer is read from its beginning. Only ever scrolls down, and no more once the
     * reader scrolls up. Returns { update, stop }.
     */
    follow(turn) {
      let scroller = this.log;
      while (scroller && !/(auto|scroll)/.test(getComputedStyle(scroller).overflowY)) {
        scroller = scroller.parentElement; // the widget's log scrolls; the page's does not
      }
      const page = !scroller;
      if (page) scroller = document.scrollingElement;
      const target = page ? global : scroller;
      let following = true;
      let reached = scroller.scrollTop;
      const onScroll = () => {
        if (scroller.scrollTop < reached - 2) following = false;
        reached = Math.max(reached, scroller.scrollTop);
      };
      const update = () => {
        if (!following || !turn.isConnected) return;
        const view = page ? { top: 0, bottom: global.innerHeight } : scroller.getBoundingClientRect();
        const bottom = Math.min(view.bottom, this.form.getBoundingClientRect().top) - MARGIN;
        const box = turn.getBoundingClientRect();
        const down = Math.min(box.bottom - bottom, box.top - view.top - MARGIN);
        if (down > 0) scroller.scrollTop += down;
        reached = scroller.scrollTop;
      };
      const resized = new ResizeObserver(update);
      resized.observe(turn);
      target.addEventListener("scroll", onScroll, { passive: true });
      update();
      return {
        update,
        stop: () => {
          resized.disconnect();
          target.removeEventListener("scroll", onScroll);
        },
      };
    }

    errorNote(error, retry) {
      const message = error.unreachable
        ? translate(this.lang(), "unreachable")
        : translate(this.lang(), "failed", { message: error.message });
      return el(
        "div",
        { class: "ea-error", role: "alert" },
        el("p", {}, message),
        el("button", { type: "button", onclick: retry }, translate(this.lang(), "retry")),
      );
    }

    /** The DOM of one question and its (coming) answer, with its controls. */
    turnView(question) {
      const lang = this.lang;
      const body = el(
        "div",
        { class: "ea-text" },
        el("p", { class: "ea-thinking", dataset: { i18n: "thinking" } }),
      );
      const notices = el("ul", { class: "ea-notices", hidden: true });
      const sources = el("ol", { class: "ea-sources", hidden: true });
      const actions = el("div", { class: "ea-actions", hidden: true });
      const answerBox = el(
        "div",
        { class: "ea-answer", "aria-busy": "true", tabindex: "-1" },
        el("h2", { class: "ea-sr", dataset: { i18n: "assistant" } }),
        body,
        notices,
        sources,
        actions,
      );
      const article = el(
        "article",
        { class: "ea-turn" },
        el(
          "div",
          { class: "ea-question" },
          el("h2", { class: "ea-sr", dataset: { i18n: "you" } }),
          el("p", { dir: "auto" }, userText(question)),
        ),
        answerBox,
      );
      this.log.append(article);
      applyStrings(article, lang());
      const cite = (citation, opener) => this.openCard(citation, opener);
      let ratingButtons = [];
      let handoffBox = null;
      let replies = null;

      const view = {
        article,
        answer: answerBox,
        draft: (text, citations) => {
          body.replaceChildren(...renderAnswer(text, citations, cite));
        },
        remove: () => article.remove(),
        /** The question's hand-off: what the user was told, and the advisers' replies. */
        showHandoff: (handoff, told) => {
          if (!handoffBox) {
            handoffBox = el("section", { class: "ea-handoff" }, el("p", { class: "ea-told" }));
            replies = el("div", { class: "ea-replies" });
            handoffBox.append(replies);
            article.append(handoffBox);
          }
          const note = handoffBox.querySelector(".ea-told");
          note.textContent = told || translate(lang(), "adviserSent");
          for (const reply of handoff.replies || []) view.addReply(reply);
          const asked = actions.querySelector(".ea-adviser");
          if (asked) {
            asked.setAttribute("aria-disabled", "true");
            asked.dataset.i18n = "adviserSent";
            asked.textContent = translate(lang(), "adviserSent");
          }
        },
        addReply: (reply) => {
          if (!replies || replies.querySelector(`[data-reply="${reply.id}"]`)) return false;
          const date = new Date(reply.created_at).toLocaleString(lang());
          replies.append(
            el(
              "article",
              { class: "ea-reply", dataset: { reply: String(reply.id) } },
              el("h3", {}, translate(lang(), "adviserReply", { date })),
              el("div", { class: "ea-text" }, renderAnswer(reply.text, reply.citations, cite)),
              (reply.citations || []).length
                ? el("ol", { class: "ea-sources" }, sourceItems(reply.citations, cite))
                : null,
            ),
          );
          this.lastReply = Math.max(this.lastReply, reply.id);
          return true;
        },
        fail: (note) => {
          answerBox.setAttribute("aria-busy", "false");
          body.replaceChildren(note);
        },
        setRating: (rating) => {
          for (const button of ratingButtons) {
            button.setAttribute("aria-pressed", String(button.dataset.rating === rating));
          }
        },
        finish: (answer) => {
          answerBox.setAttribute("aria-busy", "false");
          answerBox.classList.toggle("ea-refused", !!answer.refused);
          answerBox.lang = answer.language || "";
          body.replaceChildren(...renderAnswer(answer.answer, answer.citations, cite));
          notices.replaceChildren(...(answer.notices || []).map((n) => el("li", {}, n)));
          notices.hidden = !(answer.notices || []).length;
          sources.replaceChildren(...sourceItems(answer.citations, cite));
          sources.hidden = !(answer.citations || []).length;
          ratingButtons = this.actionsFor(actions, answer, (rating) => view.setRating(rating), view);
          actions.hidden = false;
          applyStrings(article, lang());
        },
      };
      return view;
    }

    actionsFor(actions, answer, setRating, view) {
      const status = el("p", { class: "ea-status", role: "status" });
      const copy = el(
        "button",
        {
          type: "button",
          class: "ea-copy",
          dataset: { i18nLabel: "copy" },
          onclick: async () => {
            try {
              await copyText(plainAnswer(answer, this.api.base || global.location.href));
              status.textContent = translate(this.lang(), "copied");
            } catch (_) {
              status.textContent = "";
            }
          },
        },
        icon("copy"),
      );
      const commentId = nextId("ea-comment");
      const comment = el("textarea", { id: commentId, rows: "2" });
      let rating = null;
      const send = async (withComment) => {
        try {
          await this.api.feedback({
            conversation_id: answer.conversation_id,
            turn: answer.turn,
            rating,
            comment: withComment ? comment.value.trim() || null : null,
          });
          setRating(rating);
          status.textContent = translate(this.lang(), "thanks");
          if (withComment) commentForm.hidden = true;
        } catch (error) {
          status.textContent = error.unreachable
            ? translate(this.lang(), "unreachable")
            : translate(this.lang(), "failed", { message: error.message });
        }
      };
      const commentForm = el(
        "form",
        {
          class: "ea-comment",
          hidden: true,
          onsubmit: (event) => {
            event.preventDefault();
            send(true);
          },
        },
        el("label", { for: commentId, dataset: { i18n: "comment" } }),
        comment,
        el("button", { type: "submit", dataset: { i18n: "sendFeedback" } }),
      );
      const thumb = (value, key) =>
        el(
          "button",
          {
            type: "button",
            class: `ea-thumb ea-${value}`,
            "aria-pressed": "false",
            dataset: { rating: value, i18nLabel: key },
            onclick: () => {
              rating = value;
              commentForm.hidden = false;
              send(false);
            },
          },
          icon("up", value === "down"),
        );
      const buttons = [thumb("up", "helpful"), thumb("down", "unhelpful")];
      const adviser = this.adviserControls(answer, view, status);
      // After the rating's comment form, so that Tab from a thumb reaches the comment first.
      actions.replaceChildren(copy, ...buttons, status, commentForm, ...adviser);
      return buttons;
    }

    /** "Ask an adviser" and its form (an optional e-mail address), under any answer but
     * the assistant's own small talk. */
    adviserControls(answer, view, status) {
      if (["smalltalk", "unsupported-language"].includes(answer.mode)) return [];
      const emailId = nextId("ea-email");
      const email = el("input", { id: emailId, type: "email", autocomplete: "email" });
      const form = el(
        "form",
        {
          class: "ea-adviser-form",
          hidden: true,
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const sent = await this.api.handOff({
                conversation_id: answer.conversation_id,
                turn: answer.turn,
                email: email.value.trim() || undefined,
              });
              form.hidden = true;
              view.showHandoff(sent.handoff, sent.message);
              this.watch();
            } catch (error) {
              status.textContent = error.unreachable
                ? translate(this.lang(), "unreachable")
                : translate(this.lang(), "failed", { message: error.message });
            }
          },
        },
        el("label", { for: emailId, dataset: { i18n: "adviserEmail" } }),
        email,
        el("button", { type: "submit", dataset: { i18n: "sendToAdviser" } }),
      );
      const ask = el("button", {
        type: "button",
        class: answer.refused ? "ea-adviser ea-prominent" : "ea-adviser",
        dataset: { i18n: "askAdviser" },
        onclick: (event) => {
          if (event.currentTarget.getAttribute("aria-disabled") === "true") return;
          form.hidden = !form.hidden;
          if (!form.hidden) email.focus();
        },
      });
      return [ask, form];
    }

    /** Advisers' replies to this conversation as they come (Server-Sent Events; the
     * browser reconnects by itself, resuming after the last reply it got). */
    watch() {
      if (this.events || !this.conversationId || !global.EventSource) return;
      const path = `/api/conversations/${encodeURIComponent(this.conversationId)}/events`;
      this.events = new EventSource(this.api.url(`${path}?after=${this.lastReply}`));
      this.events.addEventListener("reply", (event) => {
        const reply = JSON.parse(event.data);
        const view = this.turns.get(reply.turn);
        if (view && view.addReply(reply)) {
          this.announcer.textContent = translate(this.lang(), "adviserArrived");
        }
      });
    }

    unwatch() {
      if (this.events) this.events.close();
      this.events = null;
    }

    openCard(citation, opener) {
      const lang = this.lang();
      const heading =
        citation.section && citation.section !== citation.title ? citation.section : "";
      const facts = el("dl", {});
      const fact = (key, value) =>
        value && facts.append(el("dt", {}, translate(lang, key)), el("dd", { dir: "auto" }, userText(value)));
      fact("publishedBy", citation.publisher);
      fact("date", citation.date || translate(lang, "undated"));
      fact("licence", citation.licence);
      const passage = new URL(citation.source_url, this.api.base || global.location.href).href;
      const links = el(
        "p",
        { class: "ea-links" },
        // Only web addresses: a document's own metadata must not run script on click.
        /^https?:\/\//i.test(citation.url || "") &&
          el(
            "a",
            { href: citation.url, target: "_blank", rel: "noopener noreferrer" },
            translate(lang, "official"),
          ),
        el("a", { href: passage, target: "_blank", rel: "noopener" }, translate(lang, "passage")),
      );
      this.card.replaceChildren(
        el(
          "button",
          {
            type: "button",
            class: "ea-close",
            "aria-label": translate(lang, "close"),
            title: translate(lang, "close"),
            onclick: () => this.closeCard(),
          },
          "×",
        ),
        el("p", { class: "ea-card-n" }, translate(lang, "source", { n: citation.n })),
        el("h2", { id: this.cardTitleId, dir: "auto" }, userText(citation.title)),
        heading && el("p", { class: "ea-card-section", dir: "auto" }, userText(heading)),
        facts,
        el("blockquote", { lang: citation.language || null, dir: "auto" }, userText(citation.snippet)),
        links,
      );
      this.card.hidden = false;
      this.root.classList.add("ea-card-open");
      this.returnFocus = opener || null;
      this.card.focus();
    }

    closeCard() {
      if (this.card.hidden) return;
      this.card.hidden = true;
      this.root.classList.remove("ea-card-open");
      if (this.returnFocus) this.returnFocus.focus();
      this.returnFocus = null;
    }
  }

  global.ExportAssistant = {
    STRINGS,
    addStrings,
    pickLanguage,
    translate,
    applyStrings,
    icon,
    Api,
    ChatView,
    watchReadiness,
    userText,
  };
})(window);
