// The console's map: categorised headlines, alerts and events at their first (most specific) place.
// Feed text is untrusted: popups and the legend are DOM nodes filled with textContent, never HTML
// strings. Without a tile server the background is the vendored country outlines: no network.
"use strict";

const consoleMap = (() => {
  const KEEP = 200;  // markers of each kind, like the lists
  const map = L.map("map", { minZoom: 2, zoomSnap: 0.5, worldCopyJump: true }).setView([49, 28], 5);
  map.createPane("wf-countries").style.zIndex = 250;  // where tiles would be, under every marker
  map.createPane("wf-alerts").style.zIndex = 450;  // alerts above headlines
  map.createPane("wf-events").style.zIndex = 460;  // events above both: what the reports and alerts are about
  const markers = { headline: new Map(), alert: new Map(), event: new Map() };  // id -> {marker, time, …}, oldest first
  const categories = new Set();
  let hours = 24;

  function node(tag, text, cls) {
    const n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = String(text);
    if (cls) n.className = cls;
    return n;
  }

  function link(url, text) {
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return node("span", text);
    const a = node("a", text);
    a.href = url;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    return a;
  }

  // A stable colour per category id (FNV-1a hash to a hue), the same in every tab and reload.
  function colour(category) {
    let h = 2166136261;
    for (const ch of String(category)) h = Math.imul(h ^ ch.codePointAt(0), 16777619) >>> 0;
    return `hsl(${h % 360}, 70%, ${36 + ((h >>> 9) % 16)}%)`;
  }

  function placeName(place) {
    return place.country ? `${place.name}, ${place.country}` : place.name;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // What an event's card and popup say besides its title and place: [class, text] pairs.
  function eventFacts(ev) {
    const languages = (ev.languages || []).length ? " · " + ev.languages.join(", ") : "";
    const facts = [["ev-sources", plural(ev.sources, "source") + languages], ["ev-reports", plural(ev.reports, "report")]];
    const toll = ev.casualties || {};
    const dead = [toll.killed != null ? `${toll.killed} killed` : "", toll.injured != null ? `${toll.injured} injured` : ""];
    if (dead.some(Boolean)) facts.push(["ev-casualties", dead.filter(Boolean).join(", ")]);
    facts.push(["ev-alerted", ev.alerted ? "alerted" + (ev.updates ? `, ${plural(ev.updates, "update")}` : "") : "not alerted"]);
    return facts;
  }

  function popup(kind, item, place) {
    const box = node("div", null, "wf-popup");
    box.dataset.kind = kind;
    box.dataset.id = String(item.id);
    const title = node("strong", null, "wf-title");
    title.append(link(kind === "alert" ? (item.links || [])[0] : item.link, item.title));
    const from = kind === "alert" ? `alert ${item.rule}: ${plural(item.sources, "source")}`
      : kind === "event" ? eventFacts(item).map((f) => f[1]).join(" · ") : item.source;
    box.append(title, node("div", from, "wf-source muted"), node("div", placeName(place), "wf-place"));
    const tags = node("div");
    for (const c of item.categories || []) tags.append(node("span", c, "tag"));
    box.append(tags);
    return box;
  }

  function add(kind, item, fresh) {
    const place = (item.places || [])[0];
    const store = markers[kind];
    const placed = place && Number.isFinite(place.lat) && Number.isFinite(place.lon);
    if (kind === "event") {
      for (const gone of item.merged || []) if (markers.event.has(gone)) { drop(markers.event, gone); count(); }  // merged into this one
      return placed ? addEvent(item, place, fresh) : forget(item);
    }
    if (!placed || store.has(item.id)) return;
    const category = (item.categories || [])[0] || "";
    const fill = colour(category);
    const style = kind === "alert"
      ? { pane: "wf-alerts", radius: 11, color: "#1d232b", weight: 3, fillColor: fill, fillOpacity: 0.9 }
      : { radius: 6, color: "#ffffff", weight: 1, fillColor: fill, fillOpacity: 0.85 };
    const marker = L.circleMarker([place.lat, place.lon], { ...style, className: `wf-marker wf-${kind}` });
    marker.bindPopup(() => popup(kind, item, place), { maxWidth: 320 });
    marker.addTo(map);
    const path = marker.getElement();
    path.setAttribute("data-kind", kind);
    path.setAttribute("data-id", String(item.id));
    path.setAttribute("data-category", category);
    path.setAttribute("data-place", placeName(place));
    if (fresh) path.classList.add("wf-new");
    store.set(item.id, { marker, time: Date.parse(item.time) || Date.now() });
    while (store.size > KEEP) drop(store, store.keys().next().value);
    if (category && !categories.has(category)) { categories.add(category); renderLegend(); }
    count();
  }

  // An event is one square marker, moved and relabelled as newer states of it come: the label
  // is its number of sources; the border is dark once it was alerted.
  function addEvent(item, place, fresh) {
    const store = markers.event;
    let entry = store.get(item.id);
    if (entry && Date.parse(entry.item.updated) > Date.parse(item.updated)) return;  // older than the one shown
    const icon = L.divIcon({ html: node("span", item.sources), iconSize: [26, 26],
                             className: `wf-event${item.alerted ? " wf-alerted" : ""}${fresh ? " wf-new" : ""}` });
    if (entry) {
      store.delete(item.id);  // set again below: the newest last
      entry.marker.setLatLng([place.lat, place.lon]).setIcon(icon);
    } else {
      const marker = L.marker([place.lat, place.lon], { icon, pane: "wf-events" });
      entry = { marker };
      marker.bindPopup(() => popup("event", entry.item, entry.place), { maxWidth: 320 });
      marker.addTo(map);
    }
    Object.assign(entry, { item, place, time: Date.parse(item.time) || Date.now() });
    store.set(item.id, entry);
    const category = (item.categories || [])[0] || "";
    const box = entry.marker.getElement();
    box.style.background = colour(category);
    box.title = item.title;
    box.setAttribute("data-kind", "event");
    box.setAttribute("data-id", String(item.id));
    box.setAttribute("data-category", category);
    box.setAttribute("data-place", placeName(place));
    box.setAttribute("data-sources", String(item.sources));
    if (entry.marker.isPopupOpen()) entry.marker.getPopup().update();
    while (store.size > KEEP) drop(store, store.keys().next().value);
    if (category && !categories.has(category)) { categories.add(category); renderLegend(); }
    count();
  }

  // A newer state of an event that names no place any more takes its marker off.
  function forget(item) {
    const entry = markers.event.get(item.id);
    if (entry && !(Date.parse(entry.item.updated) > Date.parse(item.updated))) { drop(markers.event, item.id); count(); }
  }

  function drop(store, id) {
    store.get(id).marker.remove();
    store.delete(id);
  }

  // Markers older than the console's window go, as they would on a reload.
  function prune() {
    const oldest = Date.now() - hours * 3600000;
    for (const store of Object.values(markers)) {
      for (const [id, entry] of [...store]) if (entry.time < oldest) drop(store, id);
    }
    count();
  }

  function count() {
    const text = `${plural(markers.headline.size, "headline")}, ${plural(markers.alert.size, "alert")}, ` +
      `${plural(markers.event.size, "event")} placed`;
    document.getElementById("map-count").textContent = text;
  }

  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => L.DomUtil.create("div", "wf-legend");
  legend.addTo(map);

  function renderLegend() {
    const box = legend.getContainer();
    box.replaceChildren();
    for (const c of [...categories].sort()) {
      const row = node("div");
      row.dataset.category = c;
      const swatch = node("i");
      swatch.style.background = colour(c);
      row.append(swatch, node("span", c));
      box.append(row);
    }
    const ring = node("div");
    ring.append(node("i", null, "ring"), node("span", "alert (ringed)"));
    const square = node("div");
    square.append(node("i", null, "square"), node("span", "event (its sources)"));
    box.append(ring, square);
  }

  function credit(settings) {
    const text = settings.attribution || "";
    return (settings.attribution_url ? link(settings.attribution_url, text) : node("span", text)).outerHTML;
  }

  async function outlines() {
    map.getContainer().classList.add("wf-outline");
    map.setMaxZoom(8);  // 1:110m outlines: further in shows nothing more
    const world = await (await fetch("/static/vendor/world-atlas/countries-110m.json")).json();
    L.geoJSON(topojson.feature(world, world.objects.countries), {
      pane: "wf-countries", interactive: false, className: "wf-country", attribution: "Outlines: Natural Earth",
      style: { color: "#8a96a3", weight: 0.7, fillColor: "#f7f5ef", fillOpacity: 1 },
    }).addTo(map);
  }

  // The state's `map`: a tile server when WATCHFLOOR_CONSOLE_TILE_URL is set, else the outlines.
  function configure(settings) {
    if (settings && settings.tiles) {
      L.tileLayer(settings.tiles, { maxZoom: 19, attribution: credit(settings), className: "wf-tiles" }).addTo(map);
    } else {
      outlines().catch((e) => console.error("world outlines", e));
    }
  }

  // The state's markers, oldest first so the newest draw on top. The first state fits the view to
  // them; a later one (the stream opened anew) replaces every marker and leaves the view as it is.
  function load(state, first) {
    if (!first) {
      for (const store of Object.values(markers)) for (const id of [...store.keys()]) drop(store, id);
      categories.clear();  // the legend is the shown markers' categories
    }
    hours = state.chart.hours.length || hours;
    document.getElementById("map-hours").textContent = hours;
    for (const h of [...state.headlines].reverse()) add("headline", h, false);
    for (const a of [...state.alerts].reverse()) add("alert", a, false);
    for (const e of [...(state.events || [])].reverse()) add("event", e, false);
    const all = Object.values(markers).flatMap((store) => [...store.values()].map((m) => m.marker));
    if (first && all.length) map.fitBounds(L.featureGroup(all).getBounds(), { padding: [30, 30], maxZoom: 5 });
    count();
    renderLegend();
    if (first) setInterval(prune, 300000);
  }

  return { configure, load, add, colour, placeName, eventFacts };
})();
