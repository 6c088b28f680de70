// AKIG Agent: the screens (login, today) and what ties storage, sending and GPS together.
// Every text from the server is put in the page with textContent, never as HTML.

import { call, Offline, serverNow } from "./api.js";
import {
  CALL_OUTCOMES, KIND, METHODS, MISSION_STATUS, VISIT_OUTCOMES, day, gnf, longDay, outcome, time, todayIso,
} from "./format.js";
import { Duty } from "./duty.js";
import { drawMap } from "./map.js";
import { fixes, kv, markWiped, outbox, reopen, wipe } from "./store.js";
import { flushFixes, flushOutbox } from "./sync.js";

const SEND_EVERY_MS = 60000;       // the outbox is tried again this often while something waits
const REFRESH_EVERY_MS = 300000;   // the day's missions are read again this often when online
const KEEP_SENT_MS = 36 * 3600 * 1000;   // sent entries stay listed a day and a half, then go

const state = {
  session: null,      // {token, device_id, user}
  today: null,        // the last payload of /api/agent/today
  todayAt: null,      // when it was read
  entries: [],        // the outbox, in the order made
  fixesWaiting: 0,
  fixesRefused: "",
  position: null,     // the agent's last known position, for the map
  logoutArmed: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function announce(message) {
  const live = $("announce");
  live.textContent = "";
  // emptied first and filled a moment later, so that the same message twice is announced twice
  setTimeout(() => { live.textContent = message; }, 50);
}

// --- screens ------------------------------------------------------------------------------------

function show(screen) {
  $("login-screen").hidden = screen !== "login";
  $("today-screen").hidden = screen !== "today";
  const heading = $(screen === "login" ? "login-title" : "today-title");
  heading.focus();
}

function showLogin(message = "") {
  state.session = null;
  state.today = null;
  state.entries = [];
  $("login-error").textContent = message;
  $("code-row").hidden = true;
  $("code").value = "";
  $("password").value = "";
  $("header-agent").textContent = "";
  if (!$("device").value) $("device").value = deviceLabel();
  show("login");
}

function deviceLabel() {
  const ua = navigator.userAgent;
  const android = ua.match(/Android ([\d.]+)?;?\s*([^;)]*)/);
  const browser = /Firefox\//.test(ua) ? "Firefox" : /SamsungBrowser\//.test(ua) ? "Samsung Internet"
    : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "navigateur";
  if (android) {
    const model = android[2] && android[2] !== "K" ? ` ${android[2].trim()}` : "";
    return `Android${model} (${browser})`.slice(0, 60);
  }
  if (/iPhone|iPad/.test(ua)) return `iPhone (${browser})`;
  return `Ordinateur (${browser})`;
}

// --- login ----------------------------------------------------------------------------------------

async function login(event) {
  event.preventDefault();
  const button = $("login-submit");
  const error = $("login-error");
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    error.textContent = "Saisissez votre identifiant et votre mot de passe.";
    return;
  }
  const body = { username, password, device: $("device").value.trim().slice(0, 64) || deviceLabel() };
  if (!$("code-row").hidden && $("code").value.trim()) body.code = $("code").value.trim();
  button.disabled = true;
  error.textContent = "Connexion…";
  let answer;
  try {
    answer = await call("/api/agent/login", { method: "POST", body });
  } catch (e) {
    if (!(e instanceof Offline)) throw e;
    error.textContent = "Pas de réseau : la connexion demande internet. Réessayez quand le réseau revient.";
    button.disabled = false;
    return;
  } finally {
    button.disabled = false;
  }
  if (answer.ok && answer.data && answer.data.token) {
    state.session = { token: answer.data.token, device_id: answer.data.device_id, user: answer.data.user };
    reopen();
    await claimHeldEntries(answer.data.user.username);
    await kv.set("session", state.session);
    $("password").value = "";
    $("code").value = "";
    error.textContent = "";
    await openToday();
    return;
  }
  if (answer.data && answer.data.needs_code) {
    $("code-row").hidden = false;
    $("code").focus();
  }
  let message = answer.message;
  if (answer.status === 429 && answer.retryAfter) {
    message += ` (dans ${Math.ceil(answer.retryAfter / 60)} min)`;
  }
  error.textContent = message;
}

// --- today ----------------------------------------------------------------------------------------

async function openToday() {
  state.today = (await kv.get("today")) || null;
  state.todayAt = (await kv.get("todayAt")) || null;
  await loadEntries();
  show("today");
  render();
  refresh();
  sendAll();
  if (await kv.get("duty")) startDuty();
}

async function refresh() {
  if (!state.session) return;
  let answer;
  try {
    answer = await call("/api/agent/today", { token: state.session.token });
  } catch (e) {
    if (!(e instanceof Offline)) throw e;
    renderStatus();
    return;
  }
  if (!state.session) return;   // logged out meanwhile
  if (answer.revoked) { await revoked(); return; }
  if (!answer.ok) {
    $("today-error").textContent = answer.message;
    return;
  }
  $("today-error").textContent = "";
  state.today = answer.data;
  state.todayAt = new Date().toISOString();
  if (answer.data.position && !state.position) state.position = answer.data.position;
  await kv.set("today", state.today);
  await kv.set("todayAt", state.todayAt);
  render();
}

async function loadEntries() {
  const all = await outbox.all();
  const now = Date.now();
  for (const entry of all) {
    if (entry.state === "sent" && now - Date.parse(entry.sent_at || entry.made_at) > KEEP_SENT_MS) {
      await outbox.remove(entry.seq);
    }
  }
  state.entries = await outbox.all();
  state.fixesWaiting = await fixes.count();
}

function render() {
  const today = state.today;
  const user = state.session && state.session.user;
  $("header-agent").textContent = user ? (user.agent_name || user.username) : "";
  $("today-date").textContent = today ? `Tournée du ${longDay(today.date)}` : "Tournée du jour";
  renderStatus();
  renderMap();
  renderMissions();
  renderOutbox();
  $("duty-status").textContent = duty.status();
}

function renderStatus() {
  const pending = state.entries.filter((e) => e.state === "pending").length;
  const refused = state.entries.filter((e) => e.state === "refused").length;
  const parts = [navigator.onLine ? "En ligne" : "Hors ligne"];
  parts.push(pending === 0 ? "rien en attente" : `${pending} envoi${pending > 1 ? "s" : ""} en attente`);
  if (refused) parts.push(`${refused} refusé${refused > 1 ? "s" : ""}`);
  if (state.fixesWaiting) parts.push(`${state.fixesWaiting} position${state.fixesWaiting > 1 ? "s" : ""} GPS en attente`);
  $("sync-status").textContent = parts.join(" · ");
  $("sync-status").dataset.pending = String(pending);
  $("sync-now").hidden = pending === 0 && state.fixesWaiting === 0;
  $("updated").textContent = state.todayAt ? `Missions mises à jour à ${time(state.todayAt)}` : "";
  $("fixes-refused").textContent = state.fixesRefused;
}

function renderMap() {
  const missions = (state.today && state.today.missions) || [];
  drawMap($("map"), {
    // The visits only, numbered as in the list: a call needs no trip.
    stops: missions.map((m, i) => ({
      lat: m.lat === null ? NaN : Number(m.lat), lon: m.lon === null ? NaN : Number(m.lon), number: i + 1,
      done: m.status === "done", visit: m.kind === "visit",
    })).filter((stop) => stop.visit),
    position: state.position ? { lat: Number(state.position.lat), lon: Number(state.position.lon) } : null,
    tilesUrl: state.today && state.today.tiles_url,
  });
}

function renderMissions() {
  const list = $("missions");
  const missions = (state.today && state.today.missions) || [];
  list.replaceChildren(...missions.map((m, i) => missionCard(m, i + 1)));
  $("missions-empty").hidden = missions.length > 0 || !state.today;
  $("missions-loading").hidden = Boolean(state.today);
}

function geoLink(m) {
  const label = encodeURIComponent(m.site_name || m.full_name || "");
  return `geo:${m.lat},${m.lon}?q=${m.lat},${m.lon}(${label})`;
}

function missionCard(m, number) {
  const id = `mission-${number}`;
  const place = [m.site_name, [m.commune, m.quartier].filter(Boolean).join(", ")].filter(Boolean).join(" — ");
  const contact = m.last_contact
    ? `Dernier contact : ${day(m.last_contact.at)} · ${KIND[m.last_contact.kind] || m.last_contact.kind} · ${outcome(m.last_contact.outcome)}`
    : "Aucun contact récent";
  const promise = m.promise
    ? `Promesse : ${gnf(m.promise.amount)} pour le ${day(m.promise.due_date)} (${outcome(m.promise.status)})`
    : null;
  const hidden = (text) => el("span", { className: "visually-hidden", text });
  const action = (kind) => el("button", {
    type: "button", className: `action action-${kind}`, onclick: () => openEntry(kind, m),
  }, KIND[kind], hidden(` — ${m.full_name}`));
  const mine = state.entries.filter((e) => e.lease_ref === m.lease_ref && e.kind !== "positions");
  return el("li", { className: `mission${m.status === "done" ? " done" : ""}`, "data-lease": m.lease_ref },
    el("article", { "aria-labelledby": id },
      el("p", { className: "mission-head" },
        el("span", { className: "stop", "aria-hidden": "true", text: String(number) }),
        el("span", { text: `${time(m.eta)} · ${KIND[m.kind] || m.kind}` }),
        el("span", { className: "mission-status", text: MISSION_STATUS[m.status] || m.status || "" })),
      el("h3", { id, text: m.full_name || m.tenant_ref || m.lease_ref }),
      el("p", { className: "place", text: place }),
      el("p", { className: "arrears" }, "Impayés : ", el("strong", { text: gnf(m.arrears) })),
      el("p", { className: "contact", text: contact }),
      promise && el("p", { className: "promise", text: promise }),
      el("p", { className: "links" },
        m.phone && el("a", { href: `tel:${String(m.phone).replace(/[^\d+]/g, "")}`, className: "link-button" },
          `Appeler ${m.phone}`),
        m.lat !== null && m.lon !== null && el("a", { href: geoLink(m), className: "link-button" },
          "Itinéraire", hidden(` vers ${m.site_name || ""}`))),
      el("div", { className: "actions" }, ...["call", "visit", "promise", "payment"].map(action)),
      mine.length > 0 && el("ul", { className: "mission-entries", "aria-label": "Enregistré sur ce téléphone" },
        ...mine.map((e) => el("li", { text: `${KIND[e.kind]} ${e.summary} : ${stateLabel(e)}` })))));
}

function stateLabel(entry) {
  if (entry.state === "sent") return entry.receipt_no ? `envoyé, reçu n° ${entry.receipt_no}` : "envoyé";
  if (entry.state === "refused") return "refusé";
  return "en attente";
}

function renderOutbox() {
  const list = $("outbox");
  const entries = [...state.entries].reverse();   // the newest first: what the agent just did
  $("outbox-empty").hidden = entries.length > 0;
  list.replaceChildren(...entries.map((e) => el("li", { className: `entry entry-${e.state}`, "data-client-id": e.client_id },
    el("p", { className: "entry-what", text: `${KIND[e.kind]} · ${e.tenant} · ${e.summary}` }),
    el("p", { className: "entry-state" },
      el("span", { className: `badge badge-${e.state}`, text: stateLabel(e) }),
      ` ${time(e.made_at)}`),
    e.state === "refused" && el("p", { className: "entry-message", text: e.message }),
    e.state === "refused" && el("button", {
      type: "button", className: "secondary", onclick: () => dismiss(e),
    }, "Retirer", el("span", { className: "visually-hidden", text: ` l'envoi refusé (${KIND[e.kind]}, ${e.tenant})` })))));
}

async function dismiss(entry) {
  await outbox.remove(entry.seq);
  await loadEntries();
  render();
  $("outbox-title").focus();
}

// --- entries (the one-tap forms) ------------------------------------------------------------------

let current = null;   // {kind, mission, fix}

function field(label, control, hint) {
  const id = control.id;
  return el("div", { className: "field" }, el("label", { for: id, text: label }), control,
    hint && el("p", { className: "hint", id: `${id}-hint`, text: hint }));
}

function select(id, values) {
  return el("select", { id, name: id, required: true },
    ...values.map((v) => el("option", { value: v, text: outcome(v) })));
}

function openEntry(kind, mission) {
  current = { kind, mission, fix: null };
  const dialog = $("entry");
  $("entry-title").textContent = `${KIND[kind]} — ${mission.full_name || mission.lease_ref}`;
  $("entry-error").textContent = "";
  const fields = $("entry-fields");
  fields.replaceChildren();
  if (kind === "call") {
    fields.append(field("Résultat de l'appel", select("outcome", CALL_OUTCOMES)),
      field("Note (facultatif)", el("textarea", { id: "note", name: "note", maxlength: 2000, rows: 2 })));
  } else if (kind === "visit") {
    fields.append(field("Résultat de la visite", select("outcome", VISIT_OUTCOMES)),
      field("Note (facultatif)", el("textarea", { id: "note", name: "note", maxlength: 2000, rows: 2 })),
      el("p", { id: "fix-status", className: "fix-status", role: "status" }),
      el("button", { type: "button", id: "fix-retry", className: "secondary", hidden: true, onclick: locate },
        "Relever la position à nouveau"));
    locate();
  } else if (kind === "promise") {
    fields.append(
      field("Montant promis (GNF)", el("input", {
        id: "amount", name: "amount", inputmode: "numeric", autocomplete: "off", required: true,
        "aria-describedby": "amount-hint",
      }), "Nombre entier, sans espaces ni points."),
      field("Date promise", el("input", { id: "due_date", name: "due_date", type: "date", required: true, min: todayIso() })));
  } else if (kind === "payment") {
    const method = select("method", METHODS);
    fields.append(
      field("Montant reçu (GNF)", el("input", {
        id: "amount", name: "amount", inputmode: "numeric", autocomplete: "off", required: true,
        "aria-describedby": "amount-hint",
      }), "Nombre entier, sans espaces ni points."),
      field("Moyen de paiement", method),
      el("div", { id: "reference-row", hidden: true },
        field("Référence de la transaction", el("input", {
          id: "reference", name: "reference", maxlength: 64, autocomplete: "off", "aria-describedby": "reference-hint",
        }), "Le numéro donné par l'opérateur (Orange Money, MTN MoMo) ou la banque.")));
    method.addEventListener("change", () => { $("reference-row").hidden = method.value === "cash"; });
  }
  dialog.showModal();
}

function locate() {
  const status = $("fix-status");
  const retry = $("fix-retry");
  current.fix = null;
  retry.hidden = true;
  if (!("geolocation" in navigator)) {
    status.textContent = "Ce téléphone ne donne pas sa position : une visite ne peut pas être enregistrée.";
    return;
  }
  status.textContent = "Recherche de la position GPS…";
  const asked = current;
  navigator.geolocation.getCurrentPosition((position) => {
    if (current !== asked) return;
    current.fix = {
      lat: Number(position.coords.latitude.toFixed(6)),
      lon: Number(position.coords.longitude.toFixed(6)),
      accuracy_m: Math.round(position.coords.accuracy || 0),
    };
    state.position = { lat: current.fix.lat, lon: current.fix.lon };
    status.textContent = `Position relevée (± ${current.fix.accuracy_m} m).`;
  }, (error) => {
    if (current !== asked) return;
    status.textContent = error.code === error.PERMISSION_DENIED
      ? "Localisation refusée : autorisez-la pour ce site, la visite a besoin de votre position."
      : "Position GPS introuvable : mettez-vous à découvert et réessayez.";
    retry.hidden = false;
  }, { enableHighAccuracy: true, timeout: 30000, maximumAge: 30000 });
}

function wholeAmount(text) {
  const cleaned = String(text).replace(/[\s\u00a0\u202f]/g, "");
  return /^\d+$/.test(cleaned) ? Number(cleaned) : null;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function saveEntry(event) {
  event.preventDefault();
  const { kind, mission } = current;
  const error = $("entry-error");
  const made = serverNow().toISOString();
  const clientId = newClientId();
  const value = (id) => ($(id) ? $(id).value.trim() : "");
  let body;
  let summary;
  if (kind === "call") {
    body = { lease_ref: mission.lease_ref, outcome: value("outcome"), called_at: made };
    summary = outcome(body.outcome);
  } else if (kind === "visit") {
    if (!current.fix) {
      error.textContent = "Impossible d'enregistrer la visite sans position GPS : attendez le relevé ou réessayez.";
      return;
    }
    body = { lease_ref: mission.lease_ref, outcome: value("outcome"), ...current.fix, visited_at: made };
    summary = outcome(body.outcome);
  } else {
    const amount = wholeAmount(value("amount"));
    if (amount === null) {
      error.textContent = "Montant : un nombre entier de GNF est attendu.";
      $("amount").focus();
      return;
    }
    if (kind === "promise") {
      if (!value("due_date")) {
        error.textContent = "Date promise : obligatoire.";
        $("due_date").focus();
        return;
      }
      body = { lease_ref: mission.lease_ref, amount, due_date: value("due_date") };
      summary = `${gnf(amount)} pour le ${day(body.due_date)}`;
    } else {
      body = { lease_ref: mission.lease_ref, amount, method: value("method"), paid_at: made };
      if (body.method !== "cash") {
        if (!value("reference")) {
          error.textContent = "Référence de la transaction : obligatoire pour ce moyen de paiement.";
          $("reference").focus();
          return;
        }
        body.reference = value("reference");
      }
      summary = `${gnf(amount)} (${outcome(body.method)})`;
    }
  }
  if ((kind === "call" || kind === "visit") && value("note")) body.note = value("note");
  body.client_id = clientId;
  const path = { call: "/api/calls", visit: "/api/visits", promise: "/api/promises", payment: "/api/payments" }[kind];
  await outbox.add({
    client_id: clientId, kind, path, body, made_at: made, state: "pending", lease_ref: mission.lease_ref,
    tenant: mission.full_name || mission.lease_ref, summary,
  });
  $("entry").close();
  await loadEntries();
  render();
  announce(navigator.onLine ? `${KIND[kind]} enregistré(e) : envoi en cours.`
    : `${KIND[kind]} enregistré(e) sur le téléphone : envoi au retour du réseau.`);
  sendAll();
}

// --- sending --------------------------------------------------------------------------------------

async function sendAll() {
  if (!state.session) return;
  const token = state.session.token;
  let sent = false;
  const result = await flushOutbox(token, async (entry) => {
    sent = sent || entry.state === "sent";
    await loadEntries();
    render();
    if (entry.state === "sent" && entry.receipt_no) announce(`Paiement enregistré : reçu n° ${entry.receipt_no}.`);
    if (entry.state === "refused") announce(`Envoi refusé : ${entry.message}`);
  });
  if (result.revoked) { await revoked(); return; }
  await sendFixes();
  if (sent) refresh();   // the missions' statuses and last contacts changed on the server
  renderStatus();
}

async function sendFixes() {
  if (!state.session) return;
  const result = await flushFixes(state.session.token, state.session.user.agent_ref);
  if (result.revoked) { await revoked(); return; }
  if (result.refused) state.fixesRefused = `Positions GPS refusées par le serveur : ${result.refused}`;
  state.fixesWaiting = await fixes.count();
  renderStatus();
}

// --- GPS on duty ------------------------------------------------------------------------------------

const duty = new Duty({
  onFix: async (fix) => {
    state.position = { lat: fix.lat, lon: fix.lon };
    state.fixesWaiting = await fixes.count();
    renderMap();
    renderStatus();
  },
  onChange: () => { $("duty-status").textContent = duty.status(); $("duty").checked = duty.on; },
  flush: () => sendFixes(),
});

function settings() {
  return (state.today && state.today.settings) || { position_interval_s: 30, low_battery: 0.15 };
}

async function startDuty() {
  $("duty").checked = true;
  await duty.start(settings());
}

async function toggleDuty() {
  if ($("duty").checked) {
    await kv.set("duty", true);
    await startDuty();
  } else {
    await kv.set("duty", false);
    duty.stop();
  }
}

// --- leaving ----------------------------------------------------------------------------------------

async function forget() {
  duty.stop({ flush: false });   // the fixes not sent go with the rest
  await wipe();
  await forgetCaches();
}

async function forgetCaches() {
  if (window.caches) {
    // The app shell (no personal data) stays, so the login still opens offline; anything else goes.
    for (const name of await caches.keys()) {
      if (!name.startsWith("akig-agent-shell-")) await caches.delete(name);
    }
  }
}

// A revoked token (a lost phone, or a new password) wipes the day and the fixes, but not the entries that
// were still waiting: they are the agent's own work (a payment collected in cash, a promise), and losing
// them would lose money. They are kept for that agent only, and sent once he logs in again on this phone;
// anybody else logging in here makes them go, unsent (the server would credit them to the wrong agent).
async function revoked() {
  // The day's fetch and the outbox's send both learn of the revocation; the first one handles it.
  if (state.revoking || !state.session) return;
  state.revoking = true;
  try {
    await forgetRevoked();
  } finally {
    state.revoking = false;
  }
}

async function forgetRevoked() {
  const owner = state.session && state.session.user && state.session.user.username;
  const entries = await outbox.all();
  const waiting = owner ? entries.filter((e) => e.state === "pending") : [];
  if (!waiting.length) {
    await forget();
  } else {
    // Not a wipe of the whole database and a copy back: the app may be closed at any moment, and the
    // entries must never be without their mark. Mark them first, then delete the rest store by store.
    duty.stop({ flush: false });
    for (const entry of entries) {
      if (entry.state === "pending") await outbox.put({ ...entry, held_for: owner });
      else await outbox.remove(entry.seq);
    }
    await kv.set("held_for", owner);
    for (const key of ["session", "today", "todayAt", "duty"]) await kv.remove(key);
    await fixes.removeUpTo(Number.MAX_SAFE_INTEGER);
    markWiped();   // nothing else is written until the next login
    await forgetCaches();
  }
  state.entries = [];
  showLogin(REVOKED + (waiting.length ? ` ${heldNotice(waiting.length, owner)}` : ""));
}

const REVOKED = "Cet appareil a été déconnecté par un responsable (ou la session a expiré) : connectez-vous à nouveau.";

function heldNotice(count, owner) {
  const many = count > 1;
  return `${count} envoi${many ? "s" : ""} en attente ser${many ? "ont" : "a"} envoyé${many ? "s" : ""} quand ${owner} `
    + "se reconnectera sur ce téléphone.";
}

// The login shown when the app opens without a session: after a revocation with entries kept for their
// agent, it says so again (the app may have been closed, or reloaded, since the revocation was learnt).
async function loginScreenMessage() {
  const owner = await kv.get("held_for");
  if (!owner) return "";
  const held = (await outbox.all()).filter((e) => e.held_for === owner).length;
  return held ? `${REVOKED} ${heldNotice(held, owner)}` : "";
}

// Entries kept from a revoked login: sent by the same agent, dropped for anybody else.
async function claimHeldEntries(username) {
  const holder = await kv.get("held_for");
  if (!holder) return;
  for (const entry of await outbox.all()) {
    if (!entry.held_for) continue;
    if (holder === username) {
      delete entry.held_for;
      await outbox.put(entry);
    } else {
      await outbox.remove(entry.seq);
    }
  }
  await kv.remove("held_for");
}

async function logout() {
  const pending = state.entries.filter((e) => e.state === "pending").length;
  if (pending > 0 && !state.logoutArmed) {
    state.logoutArmed = true;
    $("logout-warning").textContent = `${pending} envoi${pending > 1 ? "s" : ""} en attente ser${pending > 1 ? "ont" : "a"} `
      + "perdu" + (pending > 1 ? "s" : "") + " : touchez encore « Se déconnecter » pour confirmer.";
    return;
  }
  state.logoutArmed = false;
  $("logout-warning").textContent = "";
  const token = state.session && state.session.token;
  if (token) {
    try {
      await call("/api/agent/logout", { method: "POST", body: {}, token });
    } catch {
      // offline: the token stays valid on the server until a manager revokes the device
    }
  }
  await forget();
  showLogin("Vous êtes déconnecté.");
}

// --- start ------------------------------------------------------------------------------------------

async function start() {
  $("login-form").addEventListener("submit", login);
  $("entry-form").addEventListener("submit", saveEntry);
  $("entry-cancel").addEventListener("click", () => $("entry").close());
  $("logout").addEventListener("click", logout);
  $("sync-now").addEventListener("click", () => { sendAll(); refresh(); });
  $("duty").addEventListener("change", toggleDuty);
  window.addEventListener("online", () => { renderStatus(); sendAll(); refresh(); });
  window.addEventListener("offline", renderStatus);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) sendAll(); });
  setInterval(() => { if (state.entries.some((e) => e.state === "pending")) sendAll(); }, SEND_EVERY_MS);
  setInterval(() => { if (navigator.onLine) refresh(); }, REFRESH_EVERY_MS);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/agent/sw.js", { scope: "/agent" }).catch(() => {
      // no service worker (plain HTTP on a LAN address): the app works, but not offline after a reload
    });
  }
  state.session = (await kv.get("session")) || null;
  if (state.session) await openToday(); else showLogin(await loginScreenMessage());
  document.body.dataset.ready = "1";
}

start();
