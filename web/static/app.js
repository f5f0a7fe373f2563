// The site's behaviour: search-as-you-type, the live feed, the upgrade picker and the "not crawled yet" page.
// No inline scripts anywhere: the Content-Security-Policy allows only files from this origin.
(function () {
  "use strict";

  const site = document.body.dataset.site || "";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function repoPath(name) {
    return site + "/github/" + name.split("/").map(encodeURIComponent).join("/");
  }

  // ---- search: debounced, keyboard-navigable, stale responses discarded ----
  function setUpSearch() {
    const input = document.getElementById("q");
    const list = document.getElementById("suggestions");
    const form = input && input.form;
    if (!input || !list || !form) return;
    let timer = null;
    let ticket = 0; // the newest request; an older answer arriving late is dropped
    let controller = null;
    let results = [];
    let selected = -1;

    function show() {
      list.replaceChildren();
      results.forEach((r, i) => {
        const li = el("li", r.suggestion ? "suggestion-fuzzy" : "");
        li.id = "suggestion-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === selected));
        li.dataset.completion = r.completion;
        li.appendChild(el("span", "name", r.completion));
        const also = el("span", "also");
        if (r.packages && r.packages.length) {
          r.packages.slice(0, 3).forEach((p) => {
            const tag = el("span", "pkg");
            tag.appendChild(el("span", "registry registry-" + p.registry, p.registry));
            tag.appendChild(document.createTextNode(" " + p.name));
            also.appendChild(tag);
          });
        } else if (r.suggestion) {
          also.textContent = "did you mean?";
        } else if (r.versions) {
          also.textContent = r.versions + " versions";
        }
        li.appendChild(also);
        li.addEventListener("mousedown", (e) => { e.preventDefault(); go(r); });
        list.appendChild(li);
      });
      const open = results.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", String(open));
      if (selected >= 0) input.setAttribute("aria-activedescendant", "suggestion-" + selected);
      else input.removeAttribute("aria-activedescendant");
      const current = document.getElementById("suggestion-" + selected);
      if (current) current.scrollIntoView({ block: "nearest" });
    }

    function go(result) {
      window.location.href = repoPath(result.completion);
    }

    async function query(q) {
      const mine = ++ticket;
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const resp = await fetch(site + "/search?q=" + encodeURIComponent(q), {
          signal: controller.signal, headers: { Accept: "application/json" },
        });
        if (!resp.ok || mine !== ticket) return;
        const data = await resp.json();
        if (mine !== ticket) return; // a newer query was sent while this one was in flight
        results = data;
        selected = results.length ? 0 : -1;
        show();
      } catch (err) {
        // aborted by a newer query, or offline: keep what is shown
      }
    }

    function clear() {
      ticket++;
      results = [];
      selected = -1;
      show();
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (!q) { clear(); return; }
      timer = setTimeout(() => query(q), 120);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && results.length) {
        selected = (selected + 1) % results.length; show(); e.preventDefault();
      } else if (e.key === "ArrowUp" && results.length) {
        selected = (selected - 1 + results.length) % results.length; show(); e.preventDefault();
      } else if (e.key === "Escape") {
        clear();
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (selected >= 0 && results[selected]) { go(results[selected]); return; }
      const q = input.value.trim();
      if (/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(q)) { window.location.href = repoPath(q); return; }
      if (!q) return;
      // Enter before the suggestions arrived: ask now and open the best match.
      clearTimeout(timer);
      await query(q);
      if (results.length && input.value.trim() === q) go(results[0]);
    });
    input.addEventListener("blur", () => setTimeout(() => { list.hidden = true; input.setAttribute("aria-expanded", "false"); }, 150));
    input.addEventListener("focus", () => { if (results.length) show(); });
    document.addEventListener("keydown", (e) => {
      if (e.key === "/" && document.activeElement !== input && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
        e.preventDefault(); input.focus();
      }
    });
  }

  // ---- times: "12 s ago", kept fresh ----
  const relative = typeof Intl !== "undefined" && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;

  function ago(iso) {
    const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
    if (!relative || Number.isNaN(seconds)) return iso;
    const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
    return Math.abs(seconds) < 10 ? "just now" : relative.format(seconds, "second");
  }

  function refreshTimes(root) {
    root.querySelectorAll("time[datetime]").forEach((t) => {
      t.title = new Date(t.dateTime).toLocaleString();
      t.textContent = ago(t.dateTime);
    });
  }

  // ---- the live feed: websocket only (no sticky sessions), catch-up after any reconnect ----
  function connect(onEvent, onState) {
    if (typeof io === "undefined") return null;
    const socket = io(site || undefined, { transports: ["websocket"], reconnectionDelayMax: 3000 });
    socket.on("crawled_repo", onEvent);
    socket.on("disconnect", () => onState(false, socket));
    socket.on("welcome", () => onState(true, socket));
    return socket;
  }

  function setUpFeed() {
    const feed = document.getElementById("feed");
    if (!feed) return;
    const status = document.getElementById("live-status");
    const empty = document.getElementById("feed-empty");
    const seen = new Set(Array.from(feed.children).map((li) => li.dataset.id));
    let lastId = feed.dataset.lastId || "";
    refreshTimes(feed);
    setInterval(() => refreshTimes(feed), 15000);

    function add(event) {
      if (!event || !event.id || seen.has(event.id)) return;
      seen.add(event.id);
      if (!lastId || compareIds(event.id, lastId) > 0) lastId = event.id;
      const li = el("li", "feed-item fresh");
      li.dataset.id = event.id;
      const link = el("a", "feed-repo", event.changelog);
      link.href = repoPath(event.changelog);
      li.appendChild(link);
      if (event.version) li.appendChild(el("span", "badge", event.version));
      const t = el("time");
      t.dateTime = event.crawledAt;
      li.appendChild(t);
      refreshTimes(li);
      // Newest first, wherever a caught-up event belongs.
      const after = Array.from(feed.children).find((item) => compareIds(item.dataset.id, event.id) < 0);
      feed.insertBefore(li, after || null);
      while (feed.children.length > 20) feed.removeChild(feed.lastChild);
      if (empty) empty.hidden = true;
    }

    connect(add, (up, socket) => {
      status.classList.toggle("connected", up);
      status.textContent = up ? "live" : "reconnecting…";
      // Ask for whatever was crawled since the newest event shown: no gap after a blip or an api restart.
      if (up && lastId) socket.emit("catch_up", { after: lastId });
    });
  }

  function compareIds(a, b) {
    const [am, as] = String(a).split("-").map(Number);
    const [bm, bs] = String(b).split("-").map(Number);
    return am !== bm ? am - bm : as - bs;
  }

  // ---- the upgrade picker: the combined notes of every version between two ----
  function setUpUpgrade() {
    const form = document.getElementById("upgrade-form");
    const out = document.getElementById("upgrade");
    const repo = document.getElementById("repo");
    if (!form || !out || !repo) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const from = form.elements.from.value;
      const to = form.elements.to.value;
      const params = new URLSearchParams({ from, to });
      const resp = await fetch(site + "/api/github/" + repo.dataset.repo + "/range?" + params, { headers: { Accept: "application/json" } });
      if (!resp.ok) return;
      const data = await resp.json();
      out.replaceChildren();
      const count = data.versions.length;
      out.appendChild(el("h2", "", "From " + from + " to " + to + ": " + count + (count === 1 ? " version" : " versions")));
      data.versions.forEach((v) => {
        const section = el("section", "version upgrade-version");
        section.dataset.version = v.version;
        const h = el("h3");
        const a = el("a", "", v.version);
        a.href = "#" + anchor(v.version);
        h.appendChild(a);
        if (v.date) { const t = el("time", "", v.date); t.dateTime = v.date; h.appendChild(document.createTextNode(" ")); h.appendChild(t); }
        section.appendChild(h);
        const notes = el("div", "notes");
        notes.innerHTML = v.html; // sanitized by the server (nh3) when the changelog was rendered
        section.appendChild(notes);
        out.appendChild(section);
      });
      out.hidden = false;
      history.replaceState(null, "", "?" + params + "#upgrade");
      out.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  }

  function anchor(version) {
    return "v" + (version.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "unnamed");
  }

  // ---- "not crawled yet": ask for the crawl, then wait for it ----
  function setUpPending() {
    const page = document.getElementById("pending");
    if (!page) return;
    const repo = page.dataset.repo;
    const text = document.getElementById("pending-text");
    const api = site + "/api/github/" + repo;
    const outcomes = {
      no_changelog: "No changelog was found in this repository (no changelog file and no GitHub Releases).",
      gone: "GitHub does not know this repository (it may be private, renamed or deleted).",
      empty: "This repository is empty.",
      failed: "The crawl failed; it will be tried again later.",
    };
    let done = false;

    function landed() {
      if (done) return;
      done = true;
      text.textContent = "Crawled: loading its release notes…";
      window.location.reload();
    }

    function settle(status) {
      if (status === "crawled") landed();
      else if (outcomes[status]) { done = true; page.classList.add("settled"); text.textContent = outcomes[status]; }
    }

    let asked = false; // the crawl request was accepted (a refusal, 429, is asked again at the next poll)

    async function check() {
      try {
        const resp = asked
          ? await fetch(api + "/status", { headers: { Accept: "application/json" } })
          : await fetch(api + "/crawl", { method: "POST", headers: { Accept: "application/json" } });
        if (!resp.ok) return;
        asked = true;
        settle((await resp.json()).status);
      } catch (err) { /* offline: the next poll tries again */ }
    }

    connect((event) => { if (event && event.changelog.toLowerCase() === repo.toLowerCase()) landed(); }, () => {});
    check();
    const poll = setInterval(() => { if (done) clearInterval(poll); else check(); }, 4000);
  }

  setUpSearch();
  setUpFeed();
  setUpUpgrade();
  setUpPending();
})();
