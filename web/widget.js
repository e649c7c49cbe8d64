/* The embeddable widget: a chat bubble on any page, talking to the server it came from.
 *
 *   <script src="https://assistant.example.org/widget.js" data-position="right"
 *           data-lang="fr" data-title="Questions export ?" async></script>
 *
 * data-position: right (default) or left; data-lang: en, fr… (default: the browser's);
 * data-title: the panel's heading. The page's origin must be in ASSISTANT_CORS_ORIGINS.
 * The server serves chat-core.js and this file together as /widget.js.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__exportAssistantWidget) return;
  window.__exportAssistantWidget = true;
  const { Api, ChatView, icon, pickLanguage, translate, watchReadiness } = window.ExportAssistant;

  const base = script.src.replace(/\/widget\.js(?:[?#].*)?$/, "");
  const position = script.dataset.position === "left" ? "left" : "right";
  const lang = pickLanguage(script.dataset.lang);
  const currentLang = () => lang;
  const title = script.dataset.title || translate(lang, "title");
  const storageKey = `ea.widget:${base}`;
  const api = new Api(base);

  const remember = (id) => {
    try {
      if (id) localStorage.setItem(storageKey, id);
      else localStorage.removeItem(storageKey);
    } catch (_) {
      /* storage blocked: the conversation lasts as long as the page */
    }
  };
  const remembered = () => {
    try {
      return localStorage.getItem(storageKey);
    } catch (_) {
      return null;
    }
  };

  function mount() {
    const host = document.createElement("div");
    host.setAttribute("data-export-assistant", "");
    document.body.append(host);
    const shadow = host.attachShadow({ mode: "open" });
    const make = (tag, attrs, text) => {
      const node = document.createElement(tag);
      for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
      if (text) node.textContent = text;
      return node;
    };
    for (const sheet of ["chat.css", "widget.css"]) {
      shadow.append(make("link", { rel: "stylesheet", href: `${base}/${sheet}` }));
    }
    const bubble = make("button", {
      type: "button",
      class: `ea-bubble ea-${position}`,
      "aria-expanded": "false",
      "aria-controls": "ea-panel",
      "aria-label": translate(lang, "openChat"),
      title: translate(lang, "openChat"),
    });
    bubble.append(icon("chat"));
    const panel = make("section", {
      id: "ea-panel",
      class: `ea-panel ea-${position}`,
      role: "dialog",
      "aria-labelledby": "ea-panel-title",
      lang,
    });
    panel.hidden = true;
    const heading = make("h2", { id: "ea-panel-title" }, title);
    const close = make(
      "button",
      {
        type: "button",
        class: "ea-panel-close",
        "aria-label": translate(lang, "closeChat"),
        title: translate(lang, "closeChat"),
      },
      "×",
    );
    const newChat = make(
      "button",
      { type: "button", class: "ea-panel-new" },
      translate(lang, "newConversation"),
    );
    const header = make("header", { class: "ea-panel-head" });
    header.append(heading, newChat, close);
    const status = make("p", { class: "ea-panel-status", role: "status" });
    status.hidden = true;
    const body = make("div", { class: "ea-panel-body" });
    panel.append(header, status, body);
    shadow.append(bubble, panel);

    const chat = new ChatView(body, {
      api,
      lang: currentLang,
      examples: true,
      onConversation: (id) => remember(id),
    });
    let loaded = false;
    let stopWatching = () => {};

    const open = async () => {
      panel.hidden = false;
      bubble.setAttribute("aria-expanded", "true");
      chat.input.focus();
      stopWatching = watchReadiness(api, currentLang, (text) => {
        status.textContent = text;
        status.hidden = !text;
        if (text === translate(lang, "unreachable")) {
          console.warn(
            `Export Assistant: ${base} cannot be reached from ${location.origin}. ` +
              "If the server is up, add this origin to ASSISTANT_CORS_ORIGINS.",
          );
        }
      });
      if (!loaded) {
        loaded = true;
        const id = remembered();
        if (id && !(await chat.load(id))) remember(null);
      }
    };
    const hide = () => {
      panel.hidden = true;
      bubble.setAttribute("aria-expanded", "false");
      stopWatching();
      bubble.focus();
    };
    bubble.addEventListener("click", () => (panel.hidden ? open() : hide()));
    close.addEventListener("click", hide);
    newChat.addEventListener("click", () => {
      chat.reset();
      remember(null);
      chat.input.focus();
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && chat.card.hidden) hide();
    });
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
