/* The chat page: language choice, recent conversations (kept in this browser), the
 * indexing status, around one ChatView from chat-core.js. */
(function () {
  "use strict";
  const { Api, ChatView, applyStrings, pickLanguage, translate, userText, watchReadiness } =
    window.ExportAssistant;

  const KEYS = { lang: "ea.lang", list: "ea.conversations", current: "ea.current" };
  const MAX_RECENT = 20;
  const store = {
    get(key, fallback) {
      try {
        const value = localStorage.getItem(key);
        return value == null ? fallback : JSON.parse(value);
      } catch (_) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        if (value == null) localStorage.removeItem(key);
        else localStorage.setItem(key, JSON.stringify(value));
      } catch (_) {
        /* private mode: the page still works, without memory */
      }
    },
  };

  const params = new URLSearchParams(location.search);
  let lang = pickLanguage([params.get("lang"), store.get(KEYS.lang, null)].filter(Boolean));
  const currentLang = () => lang;

  const api = new Api("");
  const select = document.getElementById("language");
  const statusLine = document.getElementById("status");
  const list = document.getElementById("conversations");
  const empty = document.getElementById("no-conversations");

  const chat = new ChatView(document.getElementById("chat"), {
    api,
    lang: currentLang,
    examples: true,
    onConversation(id, question) {
      const recent = store.get(KEYS.list, []);
      const previous = recent.find((c) => c.id === id);
      const title = previous ? previous.title : question.slice(0, 80);
      const others = recent.filter((c) => c.id !== id);
      store.set(KEYS.list, [{ id, title }, ...others].slice(0, MAX_RECENT));
      store.set(KEYS.current, id);
      renderRecent();
    },
  });

  function renderRecent() {
    const recent = store.get(KEYS.list, []);
    list.replaceChildren(
      ...recent.map((c) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = userText(c.title);
        button.dir = "auto";
        if (c.id === chat.conversationId) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => open(c.id));
        const item = document.createElement("li");
        item.append(button);
        return item;
      }),
    );
    empty.hidden = recent.length > 0;
  }

  async function open(id) {
    const found = await chat.load(id);
    if (!found) {
      store.set(
        KEYS.list,
        store.get(KEYS.list, []).filter((c) => c.id !== id),
      );
      store.set(KEYS.current, null);
      chat.reset();
    } else {
      store.set(KEYS.current, id);
    }
    renderRecent();
    chat.input.focus();
  }

  function setLanguage(code) {
    lang = code;
    document.documentElement.lang = code;
    select.value = code;
    document.title = translate(code, "title");
    applyStrings(document.body, code);
    chat.applyLanguage();
  }

  select.addEventListener("change", () => {
    store.set(KEYS.lang, select.value);
    setLanguage(select.value);
    refreshStatus();
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    chat.reset();
    store.set(KEYS.current, null);
    renderRecent();
    chat.input.focus();
  });

  let stopWatching = () => {};
  function refreshStatus() {
    stopWatching();
    stopWatching = watchReadiness(api, currentLang, (text) => {
      statusLine.textContent = text;
      statusLine.hidden = !text;
    });
  }

  setLanguage(lang);
  renderRecent();
  refreshStatus();
  // An adviser's reply e-mailed to the user links back with ?conversation=<id>.
  const current = params.get("conversation") || store.get(KEYS.current, null);
  if (current) open(current);
  if (window.matchMedia("(min-width: 900px)").matches)
    document.getElementById("history").open = true;
})();
