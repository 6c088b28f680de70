"""The owner dashboard (`/proprietaire`): how much is owed, where, since when, and is it getting better.

Filters are the parameters of the class (owner, site, as-of date, period, tenant) and are kept in the
URL, so a view can be bookmarked and shared. Every pane is a function of those parameters that calls
the data layer; nothing here touches SQL or Redis.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import panel as pn
import param

from akig_data import reads
from akig_data.periods import PERIODS, current_and_previous
from dashboards.widgets import charts
from dashboards.escape import escape_markdown
from dashboards.format import fmt_gnf, fmt_int, fmt_rate
from dashboards.labels_fr import PAYER_BADGE
from dashboards.view import View, guarded
from dashboards.widgets.cards import kpi_card, kpi_row
from dashboards.parts.downloads import export_buttons
from dashboards.parts.report_download import report_card
from dashboards.parts.site_card import SiteDetail, late_tenants_display
from dashboards.widgets.tables import as_percent, french_dates, table
from dashboards.widgets.tabs import lazy_tabs
from dashboards.parts.tenant_card import TenantDetail

URL_KEYS = {"owner_ref": "proprietaire", "site_ref": "site", "as_of": "date", "period": "periode",
            "tenant_ref": "locataire"}
TABS = ["Synthèse", "Impayés", "Sites", "Locataires", "Prévisions", "Fiche locataire"]
MAX_SITE_OPTIONS = 200
FORECAST_PAST_MONTHS = 6   # months shown as they were, before this month and the forecast
RISK_ROWS = 10
REMINDER_EFFECT_DAYS = 90


def change(current, previous, *, rate: bool = False, good_when_up: bool | None = True) -> tuple[str, str]:
    """('▲ 12,5 %', 'up-bad') style text and tone of a KPI's change against the previous period."""
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return "", "flat"
    delta = float(current) - float(previous)
    if rate:
        text = f"{abs(delta) * 100:.1f}".replace(".", ",") + " pt"
    elif previous:
        text = f"{abs(delta) / abs(float(previous)) * 100:.1f}".replace(".", ",") + "\u00a0%"
    else:
        text = "nouveau" if delta else ""
    if abs(delta) < 1e-9:
        return "= stable", "flat"
    arrow = "▲" if delta > 0 else "▼"
    tone = "flat" if good_when_up is None else ("good" if (delta > 0) == good_when_up else "bad")
    return f"{arrow} {text}", tone


class OwnerDashboard(View):
    title = "Tableau de bord propriétaire"
    url_keys = URL_KEYS

    owner_ref = param.String(default="", doc="Propriétaire ('' = tous)")
    site_ref = param.String(default="", doc="Site ('' = tous)")
    as_of = param.CalendarDate(default=None, label="Date de situation", doc="Date de situation")
    period = param.Selector(default="month", objects={label: kind for kind, label in PERIODS.items()},
                            label="Période", doc="Période")
    tenant_ref = param.String(default="", doc="Locataire ouvert dans la fiche")
    search = param.String(default="", label="Rechercher un locataire", doc="Recherche de locataire")
    place_level = param.Selector(default="commune", objects=["commune", "quartier"])

    def __init__(self, sync_url: bool = False, **params):
        # An owner's session is pinned to his own owner_ref (the data layer would refuse any other).
        self._fixed_owner = current_owner_scope()
        if self._fixed_owner:
            params["owner_ref"] = self._fixed_owner
        super().__init__(sync_url=sync_url, **params)
        if self._fixed_owner:
            self.param.watch(lambda e: setattr(self, "owner_ref", self._fixed_owner)
                             if e.new != self._fixed_owner else None, "owner_ref")
        self._tabs: pn.Tabs | None = None
        self.tenant = TenantDetail(tenant_ref=self.tenant_ref, as_of=self.as_of, owner_ref=self.owner_ref)
        self.site = SiteDetail(on_tenant=self.open_tenant, site_ref=self.site_ref, as_of=self.as_of,
                               owner_ref=self.owner_ref)
        self.param.watch(self._follow, ["owner_ref", "site_ref", "as_of", "tenant_ref"])

    # -- state -----------------------------------------------------------------------------------------
    def _follow(self, *_):
        self.tenant.param.update(tenant_ref=self.tenant_ref, as_of=self.as_of, owner_ref=self.owner_ref)
        self.site.param.update(site_ref=self.site_ref, as_of=self.as_of, owner_ref=self.owner_ref)

    def open_tenant(self, tenant_ref: str) -> None:
        self.tenant_ref = tenant_ref
        if self._tabs is not None:
            self._tabs.active = TABS.index("Fiche locataire")

    def open_site(self, site_ref: str) -> None:
        self.site_ref = site_ref
        if self._tabs is not None:
            self._tabs.active = TABS.index("Sites")

    def scope(self) -> dict:
        return {"owner_ref": self.owner_ref or None}

    def periods(self):
        return current_and_previous(self.period, self.as_of)

    # -- data behind each pane (tested without a browser) -----------------------------------------------
    def kpis(self) -> dict:
        current, previous = self.periods()
        site = {"site_ref": self.site_ref or None}
        now = reads.period_kpis(date_from=current.date_from, date_to=current.date_to, **self.scope(), **site).iloc[0]
        before = reads.period_kpis(date_from=previous.date_from, date_to=previous.date_to, **self.scope(), **site).iloc[0]
        return {"current": now, "previous": before, "period": current, "previous_period": previous}

    def sites_frame(self) -> pd.DataFrame:
        current, _ = self.periods()
        kpis = reads.site_kpis(date_from=current.date_from, date_to=current.date_to, **self.scope())
        kpis = kpis.assign(occupancy=kpis["occupied_units"] / kpis["units"].where(kpis["units"] > 0))
        shown = as_percent(kpis, ("occupancy", "collection_rate", "punctuality_rate"))
        return shown[["site_ref", "site_name", "commune", "quartier", "units", "occupancy", "arrears", "late_leases",
                      "collection_rate", "punctuality_rate"]].sort_values("arrears", ascending=False).rename(columns={
            "site_ref": "Réf.", "site_name": "Site", "commune": "Commune", "quartier": "Quartier", "units": "Logements",
            "occupancy": "Occupation (%)", "arrears": "Impayés (GNF)", "late_leases": "Baux en retard",
            "collection_rate": "Recouvrement (%)", "punctuality_rate": "Ponctualité (%)"}).reset_index(drop=True)

    def late_frame(self) -> pd.DataFrame:
        late = reads.late_tenants(as_of=self.as_of, site_ref=self.site_ref or None, limit=10, **self.scope())
        return late_tenants_display(late)

    def good_payers_frame(self) -> pd.DataFrame:
        payers = reads.good_payers(as_of=self.as_of, **self.scope())
        payers = payers.assign(badge=payers["badge"].map(PAYER_BADGE), ratio=payers["ratio"] * 100)
        return payers[["tenant_ref", "full_name", "badge", "ratio", "dues", "on_time_dues"]].rename(columns={
            "tenant_ref": "Locataire", "full_name": "Nom", "badge": "Badge", "ratio": "À l'heure (%)",
            "dues": "Échéances (12 mois)", "on_time_dues": "Payées à l'heure"})

    def search_frame(self) -> pd.DataFrame:
        found = reads.search_tenants(q=self.search, limit=20, **self.scope())
        matched = {"name": "nom", "phone": "téléphone", "unit": "logement", "site": "site"}
        return pd.DataFrame({
            "Locataire": found["tenant_ref"], "Nom": found["full_name"], "Téléphone": found["phone"],
            "Site": found["site_name"], "Trouvé par": found["matched_on"].map(matched)})

    def trend_frame(self) -> pd.DataFrame:
        trend = reads.monthly_trend(as_of=self.as_of, months=12, site_ref=self.site_ref or None, **self.scope())
        trend.attrs["as_of"] = self.as_of  # the charts mark the last month "en cours" when it is not over
        return trend

    def forecast_frame(self) -> pd.DataFrame:
        """The last months as they were (due, collected), this month and the next three as forecast on the
        1st of this month (cash_forecast at the month's start, as the backtest measures it), with the 80 %
        interval; this month also shows what came in so far, and its figures never fall below it. Of the
        site chosen, else of the owner chosen (an interval cannot be added up across owners: with all
        owners, see forecast_by_owner).
        A forecast made on the day itself would count only the dues still to fall due this month and miss
        the money still to come on those already past: mid-month, it read half of what the month brings."""
        current = self.as_of.replace(day=1)
        trend = self.trend_frame().tail(FORECAST_PAST_MONTHS + 1)
        ahead = self._forecast_rows(reads.cash_forecast(as_of=current, **self.scope()))
        none = float("nan")
        rows = []
        for month, due, collected in zip(trend["month"], trend["due"], trend["collected"]):
            month = pd.Timestamp(month).date()
            if month < current:
                rows.append((month, "passé", due, collected, none, none, none))
            elif month == current:
                so_far = 0 if pd.isna(collected) else int(collected)
                now = ahead[ahead["month"] == current]
                if len(now):
                    month_row = now.iloc[0]
                    rows.append((month, "en cours", int(month_row["dues"]), so_far,
                                 *(max(int(month_row[c]), so_far) for c in ("expected", "low_80", "high_80"))))
                else:
                    rows.append((month, "en cours", due, so_far, none, none, none))
        for row in ahead[ahead["month"] > current].itertuples():
            rows.append((row.month, "prévu", row.dues, none, row.expected, row.low_80, row.high_80))
        return pd.DataFrame(rows, columns=["month", "state", "due", "collected", "expected", "low_80", "high_80"])

    def _forecast_rows(self, forecast: pd.DataFrame) -> pd.DataFrame:
        """The forecast's rows of the site chosen, else of the owner chosen (his total rows)."""
        forecast = forecast.assign(month=[pd.Timestamp(m).date() for m in forecast["month"]])
        if self.site_ref:
            return forecast[forecast["site_ref"] == self.site_ref]
        return forecast[forecast["site_ref"].isna() & (forecast["owner_ref"] == self.owner_ref)]

    def forecast_by_owner(self) -> pd.DataFrame:
        """Each owner's expected collections per month, as forecast on the 1st of this month (the view of all
        owners)."""
        forecast = reads.cash_forecast(as_of=self.as_of.replace(day=1))
        totals = forecast[forecast["site_ref"].isna()]
        owners = reads.owners().set_index("owner_ref")["name"]
        return pd.DataFrame({
            "Propriétaire": [f"{owners.get(ref, ref)} ({ref})" for ref in totals["owner_ref"]],
            "Mois": [charts.month_label(pd.Timestamp(m).date()) for m in totals["month"]],
            "Dû (GNF)": totals["dues"], "Attendu (GNF)": totals["expected"],
            "Bas à 80 % (GNF)": totals["low_80"], "Haut à 80 % (GNF)": totals["high_80"]}).reset_index(drop=True)

    def risk_frame(self) -> pd.DataFrame:
        """The tenants most at risk of paying their next due late, riskiest first, with the main reasons."""
        risk = reads.lease_risk(as_of=self.as_of, **self.scope())
        if self.site_ref:
            risk = risk[risk["site_ref"] == self.site_ref]
        risk = french_dates(risk.head(RISK_ROWS), ("next_due_date",))
        return pd.DataFrame({
            "Nom": risk["full_name"], "Prochaine échéance": risk["next_due_date"],
            "Montant (GNF)": risk["next_due_amount"], "Retard à 10 j (%)": risk["p_late_10"] * 100,
            "Retard à 30 j (%)": risk["p_late_30"] * 100, "Pourquoi": risk["reasons"], "Site": risk["site_ref"],
            "Bail": risk["lease_ref"], "Locataire": risk["tenant_ref"]}).reset_index(drop=True)

    def reminder_effect_frame(self) -> pd.DataFrame:
        """Dues of the last REMINDER_EFFECT_DAYS days whose tenants got an SMS reminder against those of the
        leases held out of reminders: the same figures side by side, with how many dues each rests on."""
        effect = reads.reminder_effect(date_from=self.as_of - dt.timedelta(days=REMINDER_EFFECT_DAYS),
                                       date_to=self.as_of - dt.timedelta(days=1), as_of=self.as_of, **self.scope())
        if effect.empty:
            return effect
        shown = as_percent(effect, ("collection_rate", "on_time_rate"))
        shown["grp"] = shown["grp"].map({"reminded": "Relancés par SMS", "held_out": "Groupe témoin (sans relance)"})
        shown["mean_days_late"] = shown["mean_days_late"].round(1)
        return shown[["grp", "dues", "amount", "collected", "collection_rate", "on_time_rate", "mean_days_late"]].rename(
            columns={"grp": "Groupe", "dues": "Échéances", "amount": "Dû (GNF)", "collected": "Encaissé (GNF)",
                     "collection_rate": "Recouvrement (%)", "on_time_rate": "Payées à l'heure (%)",
                     "mean_days_late": "Retard moyen (jours)"})

    def reminder_effect_table(self):
        frame = self.reminder_effect_frame()
        if frame.empty:
            return pn.pane.Alert(f"Aucune relance SMS sur les {REMINDER_EFFECT_DAYS} derniers jours pour ce "
                                 "périmètre : un responsable les active dans Recouvrement → Relances SMS.",
                                 alert_type="light", sizing_mode="stretch_width")
        return table(frame, money=("Dû (GNF)", "Encaissé (GNF)"), percent=("Recouvrement (%)", "Payées à l'heure (%)"))

    def arrears_frame(self) -> pd.DataFrame:
        frame = reads.arrears_by_site(as_of=self.as_of, **self.scope())
        return frame[frame["site_ref"] == self.site_ref] if self.site_ref else frame

    # -- panes (drawn by self.bound; every pane but the KPI row deferred, so the KPI row shows first) ---
    def kpi_row(self):
        data = self.kpis()
        now, before = data["current"], data["previous"]
        late = change(now["late_tenants"], before["late_tenants"], good_when_up=False)
        cards = [
            kpi_card("Impayés", fmt_gnf(now["arrears"]), f"{fmt_int(now['late_leases'])} baux en retard",
                     change(now["arrears"], before["arrears"], good_when_up=False)),
            kpi_card("Locataires en retard", fmt_int(now["late_tenants"]), "à la date de situation", late),
            kpi_card("Taux de recouvrement", fmt_rate(now["collection_rate"]), data["period"].label,
                     change(now["collection_rate"], before["collection_rate"], rate=True)),
            kpi_card("Ponctualité", fmt_rate(now["punctuality_rate"]),
                     f"{fmt_int(now['on_time_dues'])} échéances à l'heure sur {fmt_int(now['dues'])}",
                     change(now["punctuality_rate"], before["punctuality_rate"], rate=True)),
            kpi_card("Encaissé sur la période", fmt_gnf(now["collected"]), data["period"].label,
                     change(now["collected"], before["collected"])),
            kpi_card("Dû sur la période", fmt_gnf(now["due"]),
                     f"période précédente : {data['previous_period'].label}",
                     change(now["due"], before["due"], good_when_up=None)),
        ]
        return kpi_row(cards)

    def trend_charts(self):
        trend = self.trend_frame()
        return pn.Row(charts.collected_vs_due(trend), charts.rate_trend(trend), sizing_mode="stretch_width")

    def arrears_charts(self):
        frame = self.arrears_frame()
        return pn.Row(charts.aging_by_site(frame), charts.arrears_by_place(frame, self.place_level),
                      sizing_mode="stretch_width")

    def sites_table(self):
        frame = self.sites_frame()
        if frame.empty:
            return pn.pane.Alert("Aucun site pour ce propriétaire.", alert_type="info")
        widget = table(frame, money=("Impayés (GNF)",),
                       percent=("Occupation (%)", "Recouvrement (%)", "Ponctualité (%)"),
                       page_size=15, remote=True, selectable=True, layout="fit_columns")
        widget.on_click(lambda event: self.open_site(frame.iloc[event.row]["Réf."]))
        return pn.Column(widget, export_buttons(self.sites_frame, "sites", money=("Impayés (GNF)",)),
                         sizing_mode="stretch_width")

    def late_table(self):
        frame = self.late_frame()
        if frame.empty:
            return pn.pane.Alert("Aucun locataire en retard à cette date.", alert_type="success")
        widget = table(frame, money=("Impayés (GNF)",), page_size=10)
        widget.on_click(lambda event: self.open_tenant(frame.iloc[event.row]["Locataire"]))
        return pn.Column(widget, export_buttons(self.late_frame, "top_retards", money=("Impayés (GNF)",)),
                         sizing_mode="stretch_width")

    def good_payers_table(self):
        frame = self.good_payers_frame()
        if frame.empty:
            return pn.pane.Alert("Aucun bon payeur à cette date (il faut au moins 6 échéances sur 12 mois, "
                                 "sans impayé).", alert_type="info")
        widget = table(frame, percent=("À l'heure (%)",), page_size=10, remote=True)
        widget.on_click(lambda event: self.open_tenant(frame.iloc[event.row]["Locataire"]))
        return pn.Column(widget, export_buttons(self.good_payers_frame, "bons_payeurs"), sizing_mode="stretch_width")

    def risk_table(self):
        frame = self.risk_frame()
        if frame.empty:
            return pn.pane.Alert("Aucun bail en cours : pas de risque à estimer.", alert_type="info")
        widget = table(frame, money=("Montant (GNF)",), percent=("Retard à 10 j (%)", "Retard à 30 j (%)"),
                       page_size=RISK_ROWS)
        widget.on_click(lambda event: self.open_tenant(frame.iloc[event.row]["Locataire"]))
        return pn.Column(widget, export_buttons(self.risk_frame, "locataires_a_risque",
                                                money=("Montant (GNF)",)), sizing_mode="stretch_width")

    def forecast_view(self):
        if not self.owner_ref and not self.site_ref:
            frame = self.forecast_by_owner()
            money = ("Dû (GNF)", "Attendu (GNF)", "Bas à 80 % (GNF)", "Haut à 80 % (GNF)")
            return pn.Column(
                pn.pane.Alert("Choisissez un propriétaire (ou un site) pour voir sa courbe : les fourchettes de "
                              "plusieurs propriétaires ne s'additionnent pas.", alert_type="info"),
                table(frame, money=money, page_size=16),
                export_buttons(self.forecast_by_owner, "previsions", money=money), sizing_mode="stretch_width")
        frame = self.forecast_frame()
        shown = frame.assign(month=[charts.month_label(m) for m in frame["month"]]).rename(columns={
            "month": "Mois", "state": "État", "due": "Dû (GNF)", "collected": "Encaissé (GNF)",
            "expected": "Attendu (GNF)", "low_80": "Bas à 80 % (GNF)", "high_80": "Haut à 80 % (GNF)"})
        money = ("Dû (GNF)", "Encaissé (GNF)", "Attendu (GNF)", "Bas à 80 % (GNF)", "Haut à 80 % (GNF)")
        return pn.Column(charts.collections_forecast(frame), table(shown, money=money, page_size=12),
                         sizing_mode="stretch_width")

    def search_results(self):
        if not self.search.strip():
            return pn.pane.Markdown("Nom, téléphone, logement ou site ; les fautes de frappe sont tolérées.",
                                    styles={"color": "#5f6b73", "font-size": "0.85em"})
        frame = self.search_frame()
        if frame.empty:
            return pn.pane.Alert(f"Aucun locataire ne correspond à « {escape_markdown(self.search.strip())} ».",
                                 alert_type="warning")
        widget = table(frame, page_size=8, selectable=True, css_classes=["akig-search-results"], layout="fit_columns",
                       hidden_columns=["Locataire", "Téléphone", "Trouvé par"])
        widget.on_click(lambda event: self.open_tenant(frame.iloc[event.row]["Locataire"]))
        return pn.Column(widget, export_buttons(self.search_frame, "recherche"), sizing_mode="stretch_width")

    # -- the page ----------------------------------------------------------------------------------------
    def _filters(self) -> list:
        owners = reads.owners()
        owner_options = ({} if self._fixed_owner else {"Tous les propriétaires": ""}) | {
            f"{name} ({ref})": ref for ref, name in zip(owners["owner_ref"], owners["name"])}
        owner = pn.widgets.Select(label="Propriétaire", options=owner_options, disabled=bool(self._fixed_owner),
                                  value=self.owner_ref if self.owner_ref in owner_options.values() else "")
        site = pn.widgets.Select(label="Site")
        date = pn.widgets.DatePicker.from_param(self.param.as_of)
        period = pn.widgets.RadioButtonGroup.from_param(self.param.period, color="success", variant="outline")
        # follows each key stroke; no tooltip (the placeholder says what to type)
        search = pn.widgets.TextInput.from_param(self.param.search, onkeyup=True, description=None,
                                                 placeholder="ex. Dialo, 622 12 34 56…")

        def site_options(*_):
            frame = reads.sites(**self.scope())
            if len(frame) > MAX_SITE_OPTIONS:
                # Thousands of sites make a useless list and a heavy page: offer those that owe most (the
                # sites table and the search reach the others), and the one selected.
                owing = reads.arrears_by_site(as_of=self.as_of, **self.scope()).head(MAX_SITE_OPTIONS)
                frame = frame[frame["site_ref"].isin(set(owing["site_ref"]) | {self.site_ref})]
                label = f"Tous les sites ({MAX_SITE_OPTIONS} plus gros impayés listés)"
            else:
                label = "Tous les sites"
            site.options = {label: ""} | {f"{n} ({r})": r for r, n in zip(frame["site_ref"], frame["site_name"])}
            site.value = self.site_ref if self.site_ref in site.options.values() else ""

        site_options()
        # The owner and site lists are wired by hand, not made from their parameters: picking an owner in
        # the list clears the site and the tenant (a URL naming all three keeps them), and a ref from a URL
        # that is not in the list stays in the parameter, for the data layer to refuse in French.
        owner.param.watch(lambda e: self.param.update(owner_ref=e.new, site_ref="", tenant_ref=""), "value")
        self.param.watch(site_options, "owner_ref")
        site.param.watch(lambda e: setattr(self, "site_ref", e.new), "value")
        self.param.watch(lambda e: setattr(site, "value", e.new) if e.new in site.options.values() else None,
                         "site_ref")
        # The results are drawn with the page, not deferred: empty, they are one line of help, and a
        # deferred first drawing could still be running when the first search comes back, and redraw it.
        return [owner, site, date, pn.pane.Markdown("**Période**", margin=(10, 10, 0, 10)), period, search,
                self.bound(self.search_results, "search", "owner_ref")]

    def main(self):
        # The trend and the arrears are two tabs, not one long tab, and every tab is made when it is first
        # opened (dashboards.widgets.tabs): a chart is a few dozen Bokeh models, a table or a bound pane a
        # few Panel objects, and most sessions look at the summary only.
        self._tabs = lazy_tabs(*zip(TABS, [self._synthese_tab, self._arrears_tab, self._sites_tab,
                                           self._tenants_tab, self._forecast_tab, lambda: self.tenant]),
                               active=TABS.index("Fiche locataire") if self.tenant_ref else 0,
                               sizing_mode="stretch_width")
        return [self.bound(self.kpi_row, "owner_ref", "site_ref", "as_of", "period"), self._tabs]

    def _synthese_tab(self):
        return self.bound(self.trend_charts, "owner_ref", "site_ref", "as_of", defer=True)

    def _arrears_tab(self):
        place = pn.widgets.RadioButtonGroup.from_param(self.param.place_level, options=["commune", "quartier"],
                                                       color="light")
        return [pn.Row(pn.layout.HSpacer(), pn.pane.Markdown("Impayés par :"), place),
                self.bound(self.arrears_charts, "owner_ref", "site_ref", "as_of", "place_level", defer=True)]

    def _sites_tab(self):
        return [pn.pane.Markdown("### Sites (cliquez sur un site pour son détail)"),
                self.bound(self.sites_table, "owner_ref", "as_of", "period", defer=True), self.site]

    def _tenants_tab(self):
        return [pn.pane.Markdown("### Les 10 plus gros retards"),
                self.bound(self.late_table, "owner_ref", "site_ref", "as_of", defer=True),
                pn.pane.Markdown("### Bons payeurs"),
                self.bound(self.good_payers_table, "owner_ref", "as_of", defer=True),
                pn.pane.Markdown("### Locataires à risque (prochaine échéance)"),
                pn.pane.Markdown(RISK_NOTE, styles={"color": "#5f6b73", "font-size": "0.85em"}),
                self.bound(self.risk_table, "owner_ref", "site_ref", "as_of", defer=True),
                pn.pane.Markdown(f"### Effet des relances SMS ({REMINDER_EFFECT_DAYS} derniers jours)"),
                pn.pane.Markdown(REMINDER_NOTE, styles={"color": "#5f6b73", "font-size": "0.85em"}),
                self.bound(self.reminder_effect_table, "owner_ref", "as_of", defer=True)]

    def _forecast_tab(self):
        return [pn.pane.Markdown("### Encaissements attendus"),
                pn.pane.Markdown(FORECAST_NOTE, styles={"color": "#5f6b73", "font-size": "0.85em"}),
                self.bound(self.forecast_view, "owner_ref", "site_ref", "as_of", defer=True)]

    def sidebar(self):
        sidebar = guarded(self._filters)
        sidebar = sidebar if isinstance(sidebar, list) else [sidebar]
        self.report = report = report_card(day=self.as_of, owner_ref=self.owner_ref)
        if report is not None:   # follows the dashboard's owner and date
            self.param.watch(lambda *_: report.param.update(day=self.as_of, owner_ref=self.owner_ref),
                             ["as_of", "owner_ref"])
            sidebar.append(report)
        return sidebar


REMINDER_NOTE = ("Échéances dont le locataire a reçu au moins un SMS de relance, comparées à celles des baux tirés "
                 "au sort pour n'en recevoir aucun (la part témoin réglée par le responsable) ; encaissé et retard à "
                 "la date de situation. Avec peu d'échéances dans un groupe, l'écart n'est pas significatif.")
RISK_NOTE = ("Probabilité que la prochaine échéance ne soit pas payée en entier 10 (et 30) jours après sa date, "
             "d'après l'historique du bail et le travail de recouvrement ; cliquez sur une ligne pour la fiche.")
FORECAST_NOTE = ("Prévision faite le 1er du mois pour ce mois-ci (avec l'encaissé à ce jour) et les trois suivants. "
                 "La fourchette contient l'encaissement réel 8 fois sur 10 si le modèle est juste ; les nouveaux "
                 "baux et les départs ne sont pas prévus.")


def current_owner_scope() -> str:
    """The owner_ref a logged-in owner is restricted to, '' for the roles that see every owner."""
    from akig_data.access.scope import ALL, current

    who = current()
    return who.owner_scope if who is not None and who.owner_scope != ALL else ""
