// The homepage's live feed and the search box's autocomplete. No inline scripts: the CSP forbids them.
(function () {
  "use strict";

  const base = document.querySelector("link[rel=stylesheet]").href.replace(/\/static\/style\.css.*$/, "");

  // ---- search: debounced, keyboard-navigable, stale responses discarded ----
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  let timer = null;
  let latest = 0;
  let selected = -1;
  let results = [];

  function render() {
    list.replaceChildren();
    results.forEach((r, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "suggestion-" + i;
      li.setAttribute("aria-selected", String(i === selected));
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = r.completion;
      li.appendChild(name);
      if (r.packages && r.packages.length) {
        const also = document.createElement("span");
        also.className = "also";
        also.textContent = r.packages.map((p) => p.registry + ": " + p.name).join(", ");
        li.appendChild(also);
      }
      li.addEventListener("mousedown", (e) => { e.preventDefault(); open(r); });
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", String(results.length > 0));
    if (selected >= 0) input.setAttribute("aria-activedescendant", "suggestion-" + selected);
  }

  function open(result) {
    window.location.href = base + "/github/" + result.completion;
  }

  async function query(q) {
    const ticket = ++latest;
    try {
      const resp = await fetch(base + "/search?q=" + encodeURIComponent(q));
      if (!resp.ok) return;
      const data = await resp.json();
      if (ticket !== latest) return; // a newer query was sent meanwhile
      results = data;
      selected = results.length ? 0 : -1;
      render();
    } catch (err) { /* offline: keep the old suggestions */ }
  }

  if (input) {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (!q) { latest++; results = []; render(); return; }
      timer = setTimeout(() => query(q), 120);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && results.length) { selected = (selected + 1) % results.length; render(); e.preventDefault(); }
      else if (e.key === "ArrowUp" && results.length) { selected = (selected - 1 + results.length) % results.length; render(); e.preventDefault(); }
      else if (e.key === "Enter") {
        if (selected >= 0 && results[selected]) { e.preventDefault(); open(results[selected]); }
      } else if (e.key === "Escape") { results = []; render(); }
    });
    input.addEventListener("blur", () => setTimeout(() => { list.hidden = true; }, 150));
  }

  // ---- live feed over socket.io (websocket transport only: no sticky sessions needed) ----
  const feed = document.getElementById("feed");
  if (!feed || typeof io === "undefined") return;
  const status = document.getElementById("live-status");
  const seen = new Set(Array.from(feed.children).map((li) => li.dataset.id));
  let lastId = feed.dataset.lastId || "";

  function add(event) {
    if (!event || seen.has(event.id)) return;
    seen.add(event.id);
    if (event.id) lastId = event.id;
    const li = document.createElement("li");
    li.className = "feed-item fresh";
    li.dataset.id = event.id || "";
    const a = document.createElement("a");
    a.href = base + "/github/" + event.changelog;
    a.textContent = event.changelog;
    li.appendChild(a);
    if (event.version) {
      const v = document.createElement("span");
      v.className = "badge";
      v.textContent = event.version;
      li.appendChild(v);
    }
    const t = document.createElement("time");
    const when = new Date(event.crawledAt);
    t.dateTime = when.toISOString();
    t.textContent = when.toLocaleTimeString();
    li.appendChild(t);
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 20) feed.removeChild(feed.lastChild);
  }

  const socket = io(base, { transports: ["websocket"] });
  socket.on("welcome", () => {
    status.classList.add("connected");
    // Ask for whatever was crawled since the newest event on the page: no gap after a blip or a restart.
    socket.emit("catch_up", { after: lastId });
  });
  socket.on("disconnect", () => status.classList.remove("connected"));
  socket.on("crawled_repo", add);
})();
