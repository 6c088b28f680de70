"""The leaderboards (`/classement`): the day's top 10 with 🥇🥈🥉, the month's ranking, and each agent's
trend and detail. Every number comes from the `leaderboard`, `leaderboard_month`, `agent_performance`
and `agent_daily` reads (so the page and the API agree)."""

from __future__ import annotations

import pandas as pd
import panel as pn
import param

from akig_data import reads
from akig_data.access.scope import current
from dashboards.widgets import charts
from dashboards.format import fmt_gnf, fmt_int, fmt_rate
from dashboards.view import View
from dashboards.widgets.cards import kpi_card, kpi_row
from dashboards.widgets.tables import table

MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
COLUMNS = {"rank": "Rang", "agent_ref": "Agent", "agent_name": "Nom", "zone": "Zone", "score": "Score",
           "collected": "Encaissé (GNF)", "recovery_rate": "Recouvrement (%)", "kept_rate": "Promesses tenues (%)",
           "completion_rate": "Missions faites (%)", "calls": "Appels", "visits": "Visites",
           "visits_with_proof": "Avec preuve", "promises": "Promesses", "missions_planned": "Missions"}
RATES = ("Score", "Recouvrement (%)", "Promesses tenues (%)", "Missions faites (%)")  # one decimal, French comma


def ranking_display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.assign(rank=[f"{MEDALS.get(r, '')} {r}".strip() for r in frame["rank"]])
    for column in ("recovery_rate", "kept_rate", "completion_rate"):
        shown[column] = shown[column].astype("float64") * 100
    return shown[list(COLUMNS)].rename(columns=COLUMNS)


def score_legend() -> str:
    from akig_data.runtime import get_runtime

    w = get_runtime().settings.score_weights
    total = sum(w)
    return (f"Score sur 100 : {w[0] / total:.0%} recouvrement des impayés confiés, {w[1] / total:.0%} promesses "
            f"tenues, {w[2] / total:.0%} missions faites (pondérations : AKIG_SCORE_WEIGHTS).").replace("%", " %")


class Leaderboards(View):
    title = "Classement des agents"

    day = param.CalendarDate(default=None, label="Journée", doc="Journée")
    agent_ref = param.String(default="", doc="Agent détaillé")

    def __init__(self, **params):
        super().__init__(**params)
        who = current()
        if who is not None and who.role == "agent" and not self.agent_ref:
            self.agent_ref = who.agent_ref or ""

    def podium(self):
        board = reads.leaderboard(day=self.day).head(10)
        if board.empty or board["score"].max() == 0:
            return pn.pane.Alert(f"Aucune activité enregistrée le {self.day:%d/%m/%Y}.", alert_type="info",
                                 sizing_mode="stretch_width")
        top = board.head(3)
        cards = [kpi_card(f"{MEDALS[int(r['rank'])]} {r['agent_name']}", f"{r['score']:.1f} / 100".replace(".", ","),
                          f"encaissé : {fmt_gnf(r['collected'])}") for _, r in top.iterrows()]
        return pn.Column(kpi_row(cards),
                         table(ranking_display(board), money=("Encaissé (GNF)",), percent=RATES),
                         sizing_mode="stretch_width")

    def month(self):
        board = reads.leaderboard_month(month=self.day)
        widget = table(ranking_display(board), money=("Encaissé (GNF)",), percent=RATES, page_size=15, selectable=True)
        widget.on_click(lambda e: setattr(self, "agent_ref", board.iloc[e.row]["agent_ref"]))
        return widget

    def detail(self):
        if not self.agent_ref:
            return pn.pane.Alert("Cliquez sur un agent du classement du mois pour voir son évolution.",
                                 alert_type="info", sizing_mode="stretch_width")
        start = self.day.replace(day=1)
        perf = reads.agent_performance(date_from=start, date_to=self.day, agent_ref=self.agent_ref)
        daily = reads.agent_daily(agent_ref=self.agent_ref, date_from=start, date_to=self.day)
        if perf.empty:
            return pn.pane.Alert("Agent inconnu.", alert_type="warning")
        row = perf.iloc[0]
        cards = kpi_row([
            kpi_card("Score du mois", f"{row['score']:.1f} / 100".replace(".", ","),
                     f"recouvrement {fmt_rate(row['recovery_rate'])}, promesses tenues {fmt_rate(row['kept_rate'])}, "
                     f"missions faites {fmt_rate(row['completion_rate'])}"),
            kpi_card("Encaissé", fmt_gnf(row["collected"]), f"dont {fmt_gnf(row['collected_recorded'])} saisis par lui"),
            kpi_card("Contacts utiles", fmt_int(row["right_party_contacts"]),
                     f"{fmt_int(row['calls'])} appels, {fmt_int(row['visits'])} visites"),
            kpi_card("Promesses", fmt_int(row["promises"]), f"{fmt_gnf(row['promised'])} promis"),
        ])
        # agent_daily counts the payments he recorded himself (the card above also counts those credited to
        # his contacts), so the chart's title says which.
        return pn.Column(cards, pn.Row(charts.daily_collected(daily, f"{row['agent_name']} : saisi par lui, par jour"),
                                       charts.daily_contacts(daily, "Contacts utiles par jour")),
                         sizing_mode="stretch_width")

    def main(self):
        return [
            pn.pane.Markdown("## Podium du jour"), self.bound(self.podium, "day"),
            pn.pane.Markdown("## Classement du mois"), self.bound(self.month, "day"),
            pn.pane.Markdown("## Évolution et détail"), self.bound(self.detail, "day", "agent_ref"),
            pn.pane.Markdown(score_legend()),
        ]

    def sidebar(self):
        return [pn.widgets.DatePicker.from_param(self.param.day)]
