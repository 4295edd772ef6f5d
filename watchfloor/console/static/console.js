// Watchfloor console. Feed text is untrusted: it only ever goes into the page through
// textContent and element attributes set one by one, never through innerHTML.
"use strict";

const $ = (id) => document.getElementById(id);
let chart = { hours: [], categories: {} };
let writable = false;
let hours = 24;  // the console's window: older events leave the list
const eventCards = new Map();  // event id -> its card, one per event whatever its versions

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function safeLink(url, text) {
  if (typeof url === "string" && /^https?:\/\//i.test(url)) {
    const a = el("a", text);
    a.href = url;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    return a;
  }
  return el("span", text);
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toISOString().slice(11, 16) + "Z";
}

function headlineItem(h, fresh) {
  const li = el("li", null, fresh ? "new" : "");
  li.dataset.id = h.id;
  li.append(el("span", h.severity, "sev sev-" + h.severity), el("span", when(h.time) + " ", "muted"));
  li.append(safeLink(h.link, h.title), el("span", " — " + h.source, "muted"));
  for (const c of h.categories || []) li.append(el("span", c, "tag"));
  return li;
}

function alertItem(a, fresh) {
  const li = el("li", null, fresh ? "new" : "");
  li.dataset.id = a.id;
  li.append(el("span", a.severity, "sev sev-" + a.severity), el("span", when(a.time) + " ", "muted"));
  li.append(safeLink((a.links || [])[0], a.title));
  li.append(el("span", ` (${a.sources} source${a.sources === 1 ? "" : "s"})`, "muted"), el("span", a.rule, "tag"));
  return li;
}

// An event's card: title (its report's link), where, categories, sources and languages,
// reports, casualties, whether it was alerted.
function eventCard(ev, fresh) {
  const li = el("li", null, "event" + (fresh ? " new" : ""));
  li.dataset.id = ev.id;
  li.dataset.updated = ev.updated || "";
  li.dataset.lastSeen = ev.last_seen || "";
  const title = el("strong", null, "ev-title");
  title.append(safeLink(ev.link, ev.title));
  li.append(el("span", ev.severity, "sev sev-" + ev.severity), el("span", when(ev.last_seen) + " ", "muted"), title);
  const where = el("div", null, "ev-where");
  const place = (ev.places || [])[0];
  if (place) where.append(el("span", consoleMap.placeName(place), "ev-place"));
  for (const c of ev.categories || []) where.append(el("span", c, "tag"));
  const facts = el("div", null, "ev-facts muted");
  consoleMap.eventFacts(ev).forEach(([cls, text], i) => facts.append(...(i ? [" · "] : []), el("span", text, cls)));
  if (ev.alerted) li.classList.add("alerted");
  li.append(where, facts);
  return li;
}

// A newer state of a shown event replaces its card and moves it to the top; an older one is ignored.
function showEvent(ev, fresh) {
  for (const gone of ev.merged || []) if (eventCards.has(gone)) dropEvent(eventCards.get(gone));  // merged into this one
  const old = eventCards.get(ev.id);
  if (old && Date.parse(old.dataset.updated) > Date.parse(ev.updated)) return;
  if (old) old.remove();
  const card = eventCard(ev, fresh);
  eventCards.set(ev.id, card);
  // newest report first, as the state and a reload list them: two events read from two partitions
  // arrive in either order, so the place is found by last_seen, not by arrival
  const list = $("events");
  const seen = Date.parse(ev.last_seen) || 0;
  const after = [...list.children].find((li) => (Date.parse(li.dataset.lastSeen) || 0) <= seen);
  list.insertBefore(card, after || null);
  while (list.children.length > 200) dropEvent(list.lastChild);
  countEvents();
}

function dropEvent(card) {
  eventCards.delete(card.dataset.id);
  card.remove();
}

function countEvents() {
  $("events-count").textContent = `(${eventCards.size})`;
}

function pruneEvents() {
  const oldest = Date.now() - hours * 3600000;
  // by when the alert stage last wrote the event (its clock, as the server's window), not when its news was published
  for (const card of [...eventCards.values()]) {
    if (Date.parse(card.dataset.updated || card.dataset.lastSeen) < oldest) dropEvent(card);
  }
  countEvents();
}

function prepend(list, item) {
  list.prepend(item);
  while (list.children.length > 200) list.lastChild.remove();
}

function renderChart() {
  const table = $("chart");
  table.replaceChildren();
  const totals = Object.entries(chart.categories).map(([c, counts]) => [c, counts.reduce((x, y) => x + y, 0), counts]);
  const max = Math.max(1, ...totals.map((t) => t[1]));
  totals.sort((a, b) => b[1] - a[1]);
  for (const [category, total, counts] of totals) {
    const row = el("tr");
    row.dataset.category = category;
    const bar = el("span", null, "bar");
    bar.style.width = Math.round((200 * total) / max) + "px";
    const cell = el("td");
    cell.append(bar);
    row.append(el("td", category), el("td", total, "total"), cell, el("td", `${counts[counts.length - 1] || 0} this hour`, "muted"));
    table.append(row);
  }
  if (!totals.length) table.append(el("tr", "no categorised headlines yet", "muted"));
}

function countHeadline(h) {
  const hour = Math.floor(Date.now() / 3600000) * 3600;
  if (chart.hours.length && chart.hours[chart.hours.length - 1] !== hour) {
    chart.hours.push(hour);
    chart.hours.shift();
    for (const c in chart.categories) { chart.categories[c].push(0); chart.categories[c].shift(); }
  }
  for (const c of h.categories || []) {
    if (!chart.categories[c]) chart.categories[c] = chart.hours.map(() => 0);
    chart.categories[c][chart.categories[c].length - 1] += 1;
  }
  renderChart();
}

function renderSilences(silences) {
  const list = $("silences");
  list.replaceChildren();
  for (const s of silences) {
    const li = el("li");
    li.dataset.id = s.id;
    const what = s.rule ? `rule ${s.rule}` : `terms: ${(s.match || []).join(", ")}`;
    li.append(el("strong", what), el("span", ` until ${when(s.expires)} — ${s.reason}`, "muted"));
    if (writable) {
      const b = el("button", "expire");
      b.type = "button";
      b.className = "expire";
      b.onclick = () => send(`/api/silences/${encodeURIComponent(s.id)}/expire`, {});
      li.append(" ", b);
    }
    list.append(li);
  }
  if (!silences.length) list.append(el("li", "none active", "muted"));
}

async function send(url, body) {
  const token = $("silence-token").value || sessionStorage.getItem("watchfloor-token") || "";
  if (token) sessionStorage.setItem("watchfloor-token", token);
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  $("silence-message").textContent = response.ok ? `silence ${data.id} saved` : data.error || `error ${response.status}`;
  return response.ok;
}

let setUp = false;  // the once-only set-up is done: timers, the map's background and view, the token

// The console's state, shown whole: on the page's first opening, and again whenever the stream
// opens anew (the console restarted, the network came back), since what happened while it was
// down never came through it.
function render(state) {
  const first = !setUp;
  writable = state.writable;
  $("read-only").hidden = writable;
  for (const id of ["silence-token", "silence-match", "silence-rule", "silence-duration", "silence-reason", "silence-add"]) {
    $(id).disabled = !writable;
  }
  $("rules-version").textContent = "rules " + state.rules_version;
  $("alerts").replaceChildren(...state.alerts.map((a) => alertItem(a, false)));
  $("headlines").replaceChildren(...state.headlines.map((h) => headlineItem(h, false)));
  if (!first) for (const card of [...eventCards.values()]) dropEvent(card);  // merged or gone meanwhile
  for (const ev of [...(state.events || [])].reverse()) showEvent(ev, false);  // oldest first: newest on top
  countEvents();
  chart = state.chart;
  hours = chart.hours.length || hours;
  if (first) setInterval(pruneEvents, 300000);
  $("chart-hours").textContent = chart.hours.length;
  renderChart();
  renderSilences(state.silences);
  if (first) consoleMap.configure(state.map);
  consoleMap.load(state, first);
  const token = sessionStorage.getItem("watchfloor-token");
  if (first && token) $("silence-token").value = token;
  setUp = true;
}

// The stream opens first and the state is read once it is open: the server subscribes this page
// before it answers, so whatever happens after the state was taken reaches the page. What the
// stream brings before the state is shown waits, and is replayed on it unless the state holds it.
let early = [];  // [kind, item] from the stream before the state was shown; null once it is

function showLive(kind, item) {
  if (kind === "headline") {
    prepend($("headlines"), headlineItem(item, true));
    countHeadline(item);
    consoleMap.add("headline", item, true);
  } else if (kind === "alert") {
    prepend($("alerts"), alertItem(item, true));
    consoleMap.add("alert", item, true);
  } else if (kind === "event") {
    showEvent(item, true);
    consoleMap.add("event", item, true);
  } else if (kind === "silences") {
    renderSilences(item.silences);
  }
}

let opening = 0;  // the stream's openings so far: only the latest one's state is shown

// `mine`: the opening this state is read for. If the stream opens again before its answer comes
// (the console dropped once more), that newer opening reads its own, newer state and keeps what
// the stream brings meanwhile for it: this one then shows nothing and leaves `early` alone.
async function start(mine) {
  // whatever happens to the state's rendering, the stream goes live: a throw here used to leave
  // every later update queued in `early`, never shown
  let state = { headlines: [], alerts: [] };
  try {
    const fetched = await (await fetch("/api/state")).json();
    if (mine !== opening) return;
    render(fetched);
    state = fetched;
  } catch (err) {
    if (mine !== opening) return;
    console.error("the console state could not be shown", err);
  }
  const held = new Set([...state.headlines.map((h) => "headline " + h.id), ...state.alerts.map((a) => "alert " + a.id)]);
  const waiting = early;
  early = null;
  for (const [kind, item] of waiting) if (!held.has(kind + " " + item.id)) showLive(kind, item);
}

function listen() {
  const source = new EventSource("/api/events");
  source.onopen = () => {
    $("status").textContent = "live";
    $("status").className = "status live";
    early = [];  // what the stream brings now waits for this opening's state
    start(++opening);
  };
  source.onerror = () => { $("status").textContent = "reconnecting…"; $("status").className = "status down"; };
  for (const kind of ["headline", "alert", "event", "silences"]) {
    source.addEventListener(kind, (e) => {
      const item = JSON.parse(e.data);
      if (early) early.push([kind, item]); else showLive(kind, item);
    });
  }
}

$("test-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("test-result");
  const response = await fetch("/api/test", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title: $("test-title").value }),
  });
  const data = await response.json();
  out.replaceChildren();
  if (!response.ok) { out.append(el("p", data.error)); return; }
  const line = el("p", null, "tested");
  for (const piece of data.title) line.append(piece.mark ? el("mark", piece.text) : document.createTextNode(piece.text));
  out.append(line);
  if (!data.matches.length) out.append(el("p", "no rule matches", "no-match muted"));
  for (const m of data.matches) {
    const p = el("p", null, "match");
    p.dataset.category = m.id;
    p.append(el("span", m.severity, "sev sev-" + m.severity), el("strong", m.id), el("span", " — " + m.matched.join(", "), "muted"));
    out.append(p);
  }
});

$("silence-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const match = $("silence-match").value.split(",").map((t) => t.trim()).filter(Boolean);
  const ok = await send("/api/silences", {
    match, rule: $("silence-rule").value.trim(), duration: $("silence-duration").value.trim(), reason: $("silence-reason").value.trim(),
  });
  if (ok) { $("silence-match").value = ""; $("silence-rule").value = ""; $("silence-reason").value = ""; }
});

listen();  // the state is loaded once the stream is open (see start)
