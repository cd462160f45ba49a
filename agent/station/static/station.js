// The attendant's page: login, one tile per lane (oldest call on top), decisions, live updates over SSE.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = { lang: localStorage.getItem("station.lang") || "en", me: null, lanes: new Map(), broker: "connected",
                  lostAt: null, offset: 0, events: null, calls: new Set(), audio: null,
                  drawn: new Map(), lastAction: new Map() };

  function t(key, values = {}) {
    // An unknown state or reason from a newer lane is shown as its code, never as "state.xyz".
    const text = (window.STATION_TEXT[state.lang] || {})[key] ?? window.STATION_TEXT.en[key] ?? key.split(".").pop();
    return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
  }
  const clock = (iso) => new Date(iso).toLocaleTimeString(state.lang === "ja" ? "ja-JP" : "en-GB", { hour12: false });
  const money = (amount, currency) => new Intl.NumberFormat("ja-JP", { style: "currency", currency: currency || "JPY" }).format(amount);
  const serverNow = () => Date.now() + state.offset;
  function elapsed(iso) {
    const s = Math.max(0, Math.floor((serverNow() - Date.parse(iso)) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "on") node.addEventListener("click", v); else node[k] = v;
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    $("lang").textContent = state.lang === "ja" ? "English" : "日本語";
    $("lang").lang = state.lang === "ja" ? "en" : "ja";
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    renderWho(); renderBanner(); renderAll();
  }

  function notice(text, kind = "info") {
    const box = $("notice");
    box.textContent = text; box.dataset.kind = kind; box.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  function beep() {
    try {
      state.audio = state.audio || new AudioContext();
      const osc = state.audio.createOscillator(); const gain = state.audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2; osc.connect(gain).connect(state.audio.destination);
      osc.start(); osc.stop(state.audio.currentTime + 0.25);
    } catch (_) { /* no audio: the tile still shows the call */ }
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
  }

  // Login, session and logout.
  async function api(method, path, body) {
    const response = await fetch(path, { method, credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined });
    let data = {};
    try { data = await response.json(); } catch (_) { /* empty */ }
    if (response.status === 401 && path !== "/api/login") showLogin(t("session_ended"));
    return { status: response.status, data };
  }

  async function login(token) {
    const { status, data } = await api("POST", "/api/login", { token });
    if (status !== 200) { $("login-error").textContent = data.detail || String(status); return; }
    $("token").value = ""; $("login-error").textContent = "";
    showBoard(data);
  }

  function showLogin(message = "") {
    state.me = null;
    if (state.events) { state.events.close(); state.events = null; }
    $("board").hidden = true; $("login").hidden = false; $("logout").hidden = true;
    $("login-error").textContent = message; renderWho(); $("banner").hidden = true;
  }

  function showBoard(me) {
    state.me = me;
    $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
    renderWho(); connect();
  }

  function renderWho() {
    $("who").textContent = state.me ? `${state.me.name} (${t("role_" + state.me.role)})` : "";
  }

  async function scanBadge() {
    const video = $("camera");
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
      video.srcObject = stream; video.hidden = false; await video.play();
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      for (let tries = 0; tries < 300; tries += 1) {
        const codes = await detector.detect(video);
        if (codes.length) { await login(codes[0].rawValue); break; }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      stream.getTracks().forEach((track) => track.stop());
    } catch (error) { $("login-error").textContent = String(error); }
    video.hidden = true;
  }

  // Live updates.
  function connect() {
    if (state.events) state.events.close();
    const events = state.events = new EventSource("/api/events");
    events.addEventListener("view", (e) => {
      const view = JSON.parse(e.data);
      state.offset = Date.parse(view.now) - Date.now();
      state.lanes = new Map(view.lanes.map((lane) => [lane.lane_id, lane]));
      state.calls = new Set(view.lanes.flatMap((lane) => lane.calls.map((c) => `${lane.lane_id}/${c.session_id}/${c.intervention_id}`)));
      setBroker(view.broker, view.broker_lost_at); renderAll();
    });
    events.addEventListener("lane", (e) => {
      const lane = JSON.parse(e.data);
      const keys = lane.calls.map((c) => `${lane.lane_id}/${c.session_id}/${c.intervention_id}`);
      const fresh = keys.filter((key) => !state.calls.has(key));
      // Only open calls are remembered (a tablet left on for weeks keeps a short list).
      for (const key of [...state.calls]) if (key.startsWith(`${lane.lane_id}/`) && !keys.includes(key)) state.calls.delete(key);
      keys.forEach((key) => state.calls.add(key));
      state.lanes.set(lane.lane_id, lane); renderAll();
      if (fresh.length) beep();
    });
    events.addEventListener("broker", (e) => { const b = JSON.parse(e.data); setBroker(b.broker, b.broker_lost_at); });
    events.addEventListener("action", (e) => {
      // Every applied decision, by whom, on its lane's tile (the notice is kept for this page's own answers).
      const a = JSON.parse(e.data);
      if (a.outcome === "applied") { state.lastAction.set(a.lane_id, a); renderAll(); }
    });
    events.addEventListener("logout", () => showLogin(t("session_ended")));
    events.onerror = () => { if (events.readyState === EventSource.CLOSED) api("GET", "/api/me"); };
  }

  function setBroker(broker, lostAt) { state.broker = broker; state.lostAt = lostAt; renderBanner(); }
  function renderBanner() {
    const banner = $("banner");
    banner.hidden = !state.me || state.broker !== "lost";
    banner.textContent = `${t("lost")} ${state.lostAt ? t("lost_since", { t: clock(state.lostAt) }) : ""}`;
    document.body.classList.toggle("lost", state.broker === "lost");
  }

  // Tiles.
  function sortedLanes() {
    return [...state.lanes.values()].sort((a, b) =>
      (a.oldest_call_at === null) - (b.oldest_call_at === null) || (a.oldest_call_at || "").localeCompare(b.oldest_call_at || "")
      || a.lane_id.localeCompare(b.lane_id));
  }

  // A tile is rebuilt only when what it shows changed, and moved only when the order changed: a lane's heartbeat
  // redraws nothing, so a finger on a button never loses its target to a redraw.
  const VOLATILE = new Set(["heard_at", "status_seq", "waiting_s", "published_at"]);
  function signature(lane) {
    const quiet = lane.stale || !lane.online;
    return state.lang + JSON.stringify([lane, state.lastAction.get(lane.lane_id) || null],
                                       (key, value) => (!quiet && VOLATILE.has(key) ? undefined : value));
  }

  function renderAll() {
    const list = $("tiles");
    const lanes = sortedLanes();
    for (const node of [...list.children]) {
      if (!state.lanes.has(node.dataset.lane)) { node.remove(); state.drawn.delete(node.dataset.lane); }
    }
    for (const lane of lanes) {
      const drawn = $(`tile-${lane.lane_id}`);
      const sig = signature(lane);
      if (drawn && state.drawn.get(lane.lane_id) === sig) continue;
      const tile = renderTile(lane);
      if (drawn) drawn.replaceWith(tile); else list.append(tile);
      state.drawn.set(lane.lane_id, sig);
    }
    const order = lanes.map((lane) => lane.lane_id);
    if (order.join("\n") !== [...list.children].map((node) => node.dataset.lane).join("\n")) {
      for (const laneId of order) list.append($(`tile-${laneId}`));
    }
  }

  function renderTile(lane) {
    const shown = lane.shown_state;
    const item = el("li", { class: `tile state-${shown}`, id: `tile-${lane.lane_id}`, "data-lane": lane.lane_id,
                            "data-state": shown, "data-calls": String(lane.calls.length) });
    const status = lane.stale ? t("stale", { t: clock(lane.heard_at) })
      : !lane.online ? t("offline", { t: clock(lane.heard_at) }) : t("state." + lane.state);
    item.append(el("h3", {}, el("span", { class: "lane" }, lane.lane_id), " ", el("span", { class: "status" }, status)));
    item.append(el("p", { class: "sum" }, `${money(lane.total, lane.currency)} · ${t(lane.item_count === 1 && state.lang === "en" ? "items_one" : "items", { n: lane.item_count })}`));
    const last = state.lastAction.get(lane.lane_id);
    if (last) {
      item.append(el("p", { class: "last-action" }, t("last_action", { action: t("action." + last.action), who: last.staff_name, t: clock(last.at) })));
    }
    if (lane.help_coming) item.append(el("p", { class: "coming" }, t("help_coming", { who: lane.help_coming.name || lane.help_coming.staff_id })));
    for (const call of lane.calls) item.append(renderCall(lane, call));
    const tools = el("div", { class: "tools" },
      el("button", { type: "button", textContent: t("basket"), on: () => openBasket(lane.lane_id) }),
      lane.state === "out_of_order"
        ? el("button", { type: "button", textContent: t("unlock"), on: () => send(lane.lane_id, { action: "unlock" }) })
        : el("button", { type: "button", textContent: t("lock"), on: () => send(lane.lane_id, { action: "lock" }) }));
    item.append(tools);
    return item;
  }

  function renderCall(lane, call) {
    const ids = { session_id: call.session_id, intervention_id: call.intervention_id };
    const detail = call.detail || {};
    const what = [detail.name, detail.code, detail.failed_payments ? `×${detail.failed_payments}` : null].filter(Boolean).join(" · ");
    const box = el("div", { class: "call", "data-call": call.intervention_id },
      el("p", { class: "reason" }, el("strong", {}, t("reason." + call.reason)), what ? ` — ${what}` : "",
         el("span", { class: "waiting", "data-since": call.raised_at || "" }, call.raised_at ? ` ${t("waiting", { t: elapsed(call.raised_at) })}` : "")));
    const actions = el("div", { class: "actions" });
    if (call.remote_allowed) {
      actions.append(el("button", { type: "button", class: "approve", textContent: t("approve"), on: () => send(lane.lane_id, { action: "approve", ...ids }) }),
                     el("button", { type: "button", class: "reject", textContent: t("reject"), on: () => send(lane.lane_id, { action: "reject", ...ids }) }));
    } else {
      actions.append(el("span", { class: "at-lane" }, t("at_lane")));
    }
    actions.append(el("button", { type: "button", textContent: t("coming"), on: () => send(lane.lane_id, { action: "coming", ...ids }) }));
    box.append(actions);
    return box;
  }

  setInterval(() => {
    for (const node of document.querySelectorAll(".waiting[data-since]")) {
      if (node.dataset.since) node.textContent = ` ${t("waiting", { t: elapsed(node.dataset.since) })}`;
    }
  }, 1000);

  // Commands.
  async function send(laneId, command) {
    const { status, data } = await api("POST", `/api/lanes/${encodeURIComponent(laneId)}/commands`, command);
    const action = t("action." + command.action);
    if (status === 401) return;
    if (data.outcome === "applied") notice(t("applied", { action, lane: laneId, who: data.staff_name }), "ok");
    else if (data.outcome === "already_resolved") {
      notice(t("already", { lane: laneId, who: data.resolved_by_name || data.resolved_by,
                            t: data.resolved_at ? clock(data.resolved_at) : "", decision: t(data.decision || "") }), "warn");
    } else if (data.outcome === "no_answer") notice(t("no_answer", { lane: laneId }), "error");
    else if (data.outcome === "not_sent") notice(t("not_sent"), "error");
    else notice(t("refused", { lane: laneId, message: data.message || data.detail || data.reason }), "error");
  }

  async function openBasket(laneId) {
    const { status, data } = await api("GET", `/api/lanes/${encodeURIComponent(laneId)}/basket`);
    if (status !== 200) return;
    const dialog = $("basket");
    $("basket-title").textContent = `${laneId} — ${t("basket")}`;
    $("basket-lines").replaceChildren(...data.lines.map((line) => el("li", {},
      el("span", {}, `${line.name} ×${line.quantity} ${money(line.amount, data.currency)}`),
      el("button", { type: "button", class: "void", textContent: t("void_line"),
                     on: () => send(laneId, { action: "void_line", session_id: data.session_id, line_id: line.line_id }) }))));
    $("basket-total").textContent = money(data.total, data.currency);
    $("void-sale").hidden = !state.me || state.me.role !== "supervisor";
    $("void-sale").onsubmit = (e) => { e.preventDefault(); send(laneId, { action: "void_sale", sale_id: $("sale-id").value.trim() }); };
    dialog.showModal();
  }

  // Start.
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("token").value.trim()); });
  $("scan").hidden = !("BarcodeDetector" in window && navigator.mediaDevices);
  $("scan").addEventListener("click", scanBadge);
  $("logout").addEventListener("click", async () => { await api("POST", "/api/logout", {}); showLogin(); });
  $("lang").addEventListener("click", () => { state.lang = state.lang === "ja" ? "en" : "ja"; localStorage.setItem("station.lang", state.lang); applyLanguage(); });
  $("basket-close").addEventListener("click", () => $("basket").close());
  applyLanguage();
  api("GET", "/api/me").then(({ status, data }) => { if (status === 200) showBoard(data); });
})();
