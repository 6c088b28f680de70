// French words and number formats: the same as the desk's (dashboards/labels_fr.py and
// dashboards/format.py), so an agent reads on his phone what his manager reads on the desk.
// tests/dashboards/server/test_agent_app.py checks that these labels match labels_fr.py.

export const KIND = { call: "Appel", visit: "Visite", promise: "Promesse", payment: "Paiement", positions: "Positions GPS" };

export const OUTCOME = {
  no_answer: "pas de réponse", wrong_number: "mauvais numéro", reached: "joint", refused: "refus",
  promise: "promesse", paid: "payé", absent: "absent", kept: "tenue", pending: "en cours",
  partial: "partielle", broken: "non tenue", cash: "espèces", orange_money: "Orange Money",
  mtn_momo: "MTN MoMo", bank: "banque",
};

// The values the server accepts (akig_data/writes/collection.py), in the order the forms offer them.
export const CALL_OUTCOMES = ["no_answer", "wrong_number", "reached", "refused", "promise", "paid"];
export const VISIT_OUTCOMES = ["absent", "reached", "refused", "promise", "paid"];
export const METHODS = ["cash", "orange_money", "mtn_momo", "bank"];

export const MISSION_STATUS = { planned: "à faire", done: "fait" };

const TZ = "Africa/Conakry";   // every date AKIG shows is a Conakry date (UTC+0)

// 1250000 -> "1 250 000 GNF" (narrow no-break spaces between thousands, a no-break space before GNF).
export function gnf(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const digits = String(Math.round(Math.abs(Number(value))));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  return `${Number(value) < 0 ? "−" : ""}${grouped}\u00a0GNF`;
}

const timeFormat = new Intl.DateTimeFormat("fr-FR", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat("fr-FR", { timeZone: TZ, day: "2-digit", month: "2-digit" });
const longDayFormat = new Intl.DateTimeFormat("fr-FR", { timeZone: TZ, weekday: "long", day: "numeric", month: "long" });

function parse(value) {
  if (!value) return null;
  // A bare date (YYYY-MM-DD) is a Conakry calendar day: read it at noon UTC, safely inside that day.
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T12:00:00Z` : value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function time(value) {
  const d = parse(value);
  return d ? timeFormat.format(d) : "—";
}

export function day(value) {
  const d = parse(value);
  return d ? dayFormat.format(d) : "—";
}

export function longDay(value) {
  const d = parse(value);
  return d ? longDayFormat.format(d) : "";
}

// Today's date in Conakry, as YYYY-MM-DD (the promise form's earliest date).
export function todayIso(now = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

export function outcome(code) {
  return OUTCOME[code] || code || "";
}
