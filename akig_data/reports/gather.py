"""The daily report ("rapport du jour"): the day's tables, all taken from the data layer's reads, so the
report's numbers are the dashboards' numbers. `build(day, owner_ref)` gathers them; the writers turn
them into a workbook (akig_data.reports.xlsx) and a PDF (akig_data.reports.pdf).

An owner's report has only his sites (every read is scoped by owner_ref) and no agents' tables (the
agents work for every owner). A day in the future, or before the first lease, is refused with a
message instead of an empty report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from akig_data import reads
from akig_data.errors import InvalidParameter
from akig_data.clock import TZ, today

BUCKETS = {"bucket_0_30": "0–30 jours", "bucket_31_60": "31–60 jours", "bucket_61_90": "61–90 jours",
           "bucket_90_plus": "Plus de 90 jours"}
# The aging buckets' colours, shared with the dashboards' arrears charts (dashboards.widgets.charts).
BUCKET_COLOURS = {"bucket_0_30": "#f2c94c", "bucket_31_60": "#f2994a", "bucket_61_90": "#d9534f",
                  "bucket_90_plus": "#7b1e1e"}
SEVERITIES = {"critical": "Critique", "warning": "Attention", "info": "Information"}
PROMISE_STATUSES = {"kept": "tenue", "partial": "partielle", "broken": "non tenue", "pending": "en attente"}
METHODS = {"cash": "Espèces", "orange_money": "Orange Money", "mtn_momo": "MTN MoMo", "bank": "Banque"}


@dataclass
class DailyReport:
    day: dt.date
    owner_ref: str | None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)   # sheet title -> table (French headings)

    @property
    def scope(self) -> str:
        return f"propriétaire {self.owner_ref}" if self.owner_ref else "tous les propriétaires"


def _ints(column: pd.Series) -> pd.Series:
    """Counts and GNF amounts as int64; a read's empty aggregate (NULL on a day without activity) is 0."""
    return column.fillna(0).astype("int64")


def same_day_last_month(day: dt.date) -> dt.date:
    month = day.replace(day=1) - dt.timedelta(days=1)
    return month.replace(day=min(day.day, month.day))


def check_day(day: dt.date, owner_ref: str | None) -> None:
    """Refuse (InvalidParameter, in French) an unknown owner, a day in the future or before any data."""
    if day > today():
        raise InvalidParameter(f"Le rapport du {day:%d/%m/%Y} n'existe pas encore : cette date est dans le futur.")
    owners = reads.owners(owner_ref=owner_ref)
    if owner_ref is not None and owners.empty:
        raise InvalidParameter(f"Propriétaire inconnu : {owner_ref}.")
    starts = owners["first_lease_start"].dropna()
    first = min(starts) if len(starts) else None
    if first is None or day < first:
        since = f" (les données commencent le {first:%d/%m/%Y})" if first else ""
        raise InvalidParameter(f"Aucune donnée pour le {day:%d/%m/%Y}{since}.")


def kpis(day: dt.date, owner_ref: str | None) -> pd.DataFrame:
    """The day's and the month's figures with the change against yesterday and the same days of last month."""
    month_start, last_day = day.replace(day=1), same_day_last_month(day)

    def one(start: dt.date, end: dt.date) -> pd.Series:
        return reads.period_kpis(date_from=start, date_to=end, owner_ref=owner_ref).iloc[0]

    today_, yesterday = one(day, day), one(day - dt.timedelta(days=1), day - dt.timedelta(days=1))
    month, last_month = one(month_start, day), one(last_day.replace(day=1), last_day)
    rows = []
    for label, column, kind in (("Encaissé (GNF)", "collected", "money"), ("Dû (GNF)", "due", "money"),
                                ("Taux de recouvrement (%)", "collection_rate", "rate"),
                                ("Impayés en fin de période (GNF)", "arrears", "money"),
                                ("Baux en retard", "late_leases", "count")):
        values = [today_[column], yesterday[column], month[column], last_month[column]]
        if kind == "rate":
            values = [None if pd.isna(v) else round(100 * float(v), 1) for v in values]
        else:
            values = [0 if pd.isna(v) else int(v) for v in values]
        change = lambda a, b: None if a is None or b is None else round(a - b, 1) if kind == "rate" else a - b  # noqa: E731
        rows.append({"Indicateur": label, "Jour": values[0], "Veille": values[1], "Écart jour": change(values[0], values[1]),
                     "Mois": values[2], "Mois dernier, mêmes jours": values[3],
                     "Écart mois": change(values[2], values[3])})
    return pd.DataFrame(rows, dtype=object)   # object: money stays integer GNF next to the rate's decimals


def build(day: dt.date, owner_ref: str | None = None) -> DailyReport:
    check_day(day, owner_ref)
    report = DailyReport(day, owner_ref)
    report.tables["Indicateurs"] = kpis(day, owner_ref)
    collected = reads.collections_by_site(day=day, owner_ref=owner_ref)
    report.tables["Encaissé par site"] = pd.DataFrame({
        "Site": collected["site_name"], "Moyen de paiement": [METHODS.get(m, m) for m in collected["method"]],
        "Paiements": _ints(collected["payments"]), "Encaissé (GNF)": _ints(collected["collected"])})
    by_method = collected.groupby("method", as_index=False).agg(payments=("payments", "sum"), collected=("collected", "sum"))
    report.tables["Encaissé par moyen"] = pd.DataFrame({
        "Moyen de paiement": [METHODS.get(m, m) for m in by_method["method"]],
        "Paiements": _ints(by_method["payments"]), "Encaissé (GNF)": _ints(by_method["collected"])})
    sites = reads.arrears_by_site(as_of=day, owner_ref=owner_ref)
    report.tables["Impayés par ancienneté"] = pd.DataFrame({
        "Ancienneté": list(BUCKETS.values()), "Impayés (GNF)": [int(sites[c].sum()) for c in BUCKETS]})
    if owner_ref is None:
        stats = reads.daily_stats(day=day)
        stats = stats[~stats["is_total"].astype(bool)]   # the writers add their own total line
        report.tables["Journée des agents"] = pd.DataFrame({
            "Agent": stats["agent_name"], "Appels": _ints(stats["calls"]),
            "Visites": _ints(stats["visits"]), "Avec preuve": _ints(stats["visits_with_proof"]),
            "Promesses": _ints(stats["promises"]), "Encaissé (GNF)": _ints(stats["collected"])})
        board = reads.leaderboard(day=day).head(3)
        report.tables["Podium"] = pd.DataFrame({"Rang": _ints(board["rank"]), "Agent": board["agent_name"],
                                                "Score": board["score"].astype("float64").round(1),
                                                "Encaissé (GNF)": _ints(board["collected"])})
    promises = reads.promises(as_of=day, owner_ref=owner_ref, due_from=day, due_to=day)
    due = promises[promises["due_date"] == day]
    report.tables["Promesses du jour"] = pd.DataFrame({
        "Promesse": due["promise_ref"], "Bail": due["lease_ref"], "Montant (GNF)": _ints(due["amount"]),
        "Payé (GNF)": _ints(due["paid"]), "Statut": [PROMISE_STATUSES.get(s, s) for s in due["status"]]})
    opened = reads.alerts_opened(day=day, owner_ref=owner_ref)
    report.tables["Nouvelles alertes"] = pd.DataFrame({
        "Gravité": [SEVERITIES.get(s, s) for s in opened["severity"]], "Alerte": opened["title"],
        "Objet": opened["object_ref"], "Détail": opened["detail"],
        "Levée à": [t.astimezone(TZ).strftime("%H:%M") for t in opened["first_seen"]],
        "Résolue": ["oui" if pd.notna(t) else "non" for t in opened["resolved_at"]]})
    late = reads.late_tenants(as_of=day, owner_ref=owner_ref, limit=10)
    report.tables["Dix plus gros impayés"] = pd.DataFrame({
        "Locataire": late["full_name"], "Site": late["site_name"], "Impayés (GNF)": _ints(late["arrears"]),
        "Jours de retard": _ints(late["days_late"])})
    report.tables["Locataires à risque"] = at_risk(day, owner_ref)
    return report


RISK_ROWS = 10


def at_risk(day: dt.date, owner_ref: str | None) -> pd.DataFrame:
    """The tenants most likely to pay their next due late (lease_risk, riskiest first): whom to call before
    the due date, with the main reasons in French."""
    risk = reads.lease_risk(as_of=day, owner_ref=owner_ref).head(RISK_ROWS)
    return pd.DataFrame({
        "Locataire": risk["full_name"], "Site": risk["site_ref"],
        "Échéance": [pd.Timestamp(d).strftime("%d/%m/%Y") for d in risk["next_due_date"]],
        "Montant (GNF)": _ints(risk["next_due_amount"]),
        "Risque à 10 jours (%)": (risk["p_late_10"].astype("float64") * 100).round().astype("int64"),
        "Raisons": risk["reasons"]})
