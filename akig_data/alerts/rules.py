"""The business alert rules, each one parameterised SQL query over the data layer's SQL functions.

Every query takes :as_of (the local day), :now (the moment, for the rules about today's field work) and
:threshold (the rule's setting), and returns the objects it fires on: object_kind, object_ref, owner_ref,
detail (French), value. A rule's threshold comes from its variable AKIG_ALERT_<CODE> (read by
akig_data.config, which refuses a value that is not a number), else its default.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from akig_data import config


@dataclass(frozen=True)
class Rule:
    code: str
    title: str          # French, shown in the alerts panel
    severity: str       # info, warning, critical
    threshold: float    # default; AKIG_ALERT_<CODE> overrides it
    unit: str
    sql: str = ""
    # A rule whose figures come from Python (the cash forecast's simulation) rather than SQL:
    # compute(as_of, threshold) returns the objects it fires on, the same columns as the SQL rules'.
    compute: Callable[[dt.date, float], pd.DataFrame] | None = None

    @property
    def setting(self) -> str:
        return f"AKIG_ALERT_{self.code.upper()}"

    def current_threshold(self) -> float:
        return config.load().alert_threshold(self.code, self.threshold)


FORECAST_MAX_AGE_S = 3600
_month_forecasts: dict[tuple, tuple[float, pd.DataFrame]] = {}
_month_forecasts_lock = threading.Lock()


def month_start_forecast(month_start: dt.date) -> pd.DataFrame:
    """Every owner's cash_forecast made on the month's 1st, kept by this process for FORECAST_MAX_AGE_S.
    The read's cache follows every write to the ledger, as it must, and agents record payments all day: the
    evaluation, every 5 minutes, computed every owner's forecast again each time (5.5 s at `demo` scale,
    minutes at `large`). A forecast made on the 1st depends on what was known before the 1st only, so once
    an hour is enough; a newly trained model reaches the rule within the hour."""
    from akig_data import reads
    from akig_data.runtime import get_runtime

    settings = get_runtime().settings
    key = (settings.database_url, settings.cache_prefix, month_start)
    with _month_forecasts_lock:
        kept = _month_forecasts.get(key)
        if kept is not None and time.monotonic() - kept[0] < FORECAST_MAX_AGE_S:
            return kept[1]
    forecast = reads.cash_forecast(as_of=month_start)
    with _month_forecasts_lock:
        for stale in [k for k in _month_forecasts if k[:2] == key[:2] and k != key]:
            del _month_forecasts[stale]          # last month's, once the month has turned
        _month_forecasts[key] = (time.monotonic(), forecast)
    return forecast


def forecast_below_due(as_of: dt.date, threshold: float) -> pd.DataFrame:
    """Owners whose month, as forecast on its 1st (cash_forecast; what came in since counts when it is
    more), should bring in less than `threshold` % of what falls due in it: warned while there is time to
    act, not at the month's end."""
    from akig_data import reads
    from akig_data.reports.spreadsheet import format_gnf

    columns = ["object_kind", "object_ref", "owner_ref", "detail", "value"]
    month_start = as_of.replace(day=1)
    forecast = month_start_forecast(month_start)
    first = pd.Series([pd.Timestamp(m).date() == month_start for m in forecast["month"]], index=forecast.index,
                      dtype=bool)
    month = forecast[forecast["site_ref"].isna() & first]
    collected = reads.site_kpis(date_from=month_start, date_to=as_of).groupby("owner_ref")["collected"].sum()
    rows = []
    for row in month.itertuples():
        expected = max(int(row.expected), int(collected.get(row.owner_ref, 0)))
        if row.dues <= 0:
            continue
        share = 100.0 * expected / row.dues
        if share < threshold:
            rows.append(("owner", row.owner_ref, row.owner_ref,
                         f"Prévision du mois : {format_gnf(expected)} attendus sur {format_gnf(row.dues)} dus "
                         f"({share:.0f} %)", share))
    return pd.DataFrame(rows, columns=columns)


_WORKING_HOURS = ("CAST(:now AS timestamptz) AT TIME ZONE 'Africa/Conakry' BETWEEN"
                  " CAST(:as_of AS date) + time '08:00' AND CAST(:as_of AS date) + time '17:00'")

RULES: tuple[Rule, ...] = (
    Rule("site_arrears_high", "Impayés d'un site au-dessus du seuil", "critical", 200_000_000, "GNF", """
        SELECT 'site' AS object_kind, site_ref AS object_ref, owner_ref,
               site_name || ' : ' || arrears || ' GNF d''impayés' AS detail, arrears::float8 AS value
          FROM arrears_by_site(CAST(:as_of AS date)) WHERE arrears > :threshold"""),
    Rule("site_arrears_spike", "Impayés d'un site en forte hausse sur 7 jours", "warning", 20, "%", """
        SELECT 'site', now_.site_ref, now_.owner_ref,
               now_.site_name || ' : ' || before_.arrears || ' → ' || now_.arrears || ' GNF en 7 jours',
               (100.0 * (now_.arrears - before_.arrears) / before_.arrears)::float8
          FROM arrears_by_site(CAST(:as_of AS date)) now_
          JOIN arrears_by_site(CAST(:as_of AS date) - 7) before_ ON before_.site_ref = now_.site_ref
         WHERE before_.arrears > 0 AND now_.arrears > before_.arrears * (1 + :threshold / 100.0)"""),
    Rule("promises_broken_today", "Promesse non tenue aujourd'hui", "warning", 0, "", """
        SELECT 'lease', lease_ref, owner_ref,
               'Promesse ' || promise_ref || ' de ' || amount || ' GNF, échue le ' || to_char(due_date, 'DD/MM/YYYY'),
               amount::float8
          FROM promises(CAST(:as_of AS date), NULL, CAST(:as_of AS date) - 1, CAST(:as_of AS date) - 1)
         WHERE status = 'broken' AND amount > :threshold"""),
    Rule("promises_due_tomorrow", "Promesse à échéance demain", "info", 0, "", """
        SELECT 'lease', lease_ref, owner_ref,
               'Promesse ' || promise_ref || ' de ' || amount || ' GNF due demain (' || paid || ' déjà payés)',
               amount::float8
          FROM promises(CAST(:as_of AS date), NULL, CAST(:as_of AS date) + 1, CAST(:as_of AS date) + 1)
         WHERE status = 'pending' AND amount > :threshold"""),
    Rule("collection_rate_behind", "Recouvrement du mois en retard sur le mois dernier", "warning", 10, "points", """
        WITH o AS (SELECT owner_ref FROM owners)
        SELECT 'owner', o.owner_ref, o.owner_ref,
               'Taux de recouvrement ' || round((100 * cur.collection_rate)::numeric, 1) || ' % contre '
               || round((100 * prev.collection_rate)::numeric, 1) || ' % le même jour du mois dernier',
               (100 * (prev.collection_rate - cur.collection_rate))::float8
          FROM o
          CROSS JOIN LATERAL period_kpis(date_trunc('month', CAST(:as_of AS date))::date, CAST(:as_of AS date),
                                         o.owner_ref) cur
          CROSS JOIN LATERAL period_kpis((date_trunc('month', CAST(:as_of AS date)) - interval '1 month')::date,
                                         (CAST(:as_of AS date) - interval '1 month')::date, o.owner_ref) prev
         WHERE cur.collection_rate IS NOT NULL AND prev.collection_rate IS NOT NULL
           AND 100 * (prev.collection_rate - cur.collection_rate) > :threshold"""),
    Rule("agent_no_gps", "Agent sans position GPS depuis 30 minutes", "warning", 30, "min", f"""
        SELECT 'agent', a.agent_ref, NULL,
               a.full_name || ' : dernière position ' || coalesce(to_char(last.t AT TIME ZONE 'Africa/Conakry',
               'DD/MM HH24:MI'), 'jamais'),
               extract(epoch FROM CAST(:now AS timestamptz) - last.t)::float8 / 60
          FROM agents a
          LEFT JOIN LATERAL (SELECT max(t) AS t FROM agent_positions p WHERE p.agent_id = a.id
                              AND p.t <= CAST(:now AS timestamptz)) last ON true
         WHERE a.active AND {_WORKING_HOURS}
           AND EXISTS (SELECT 1 FROM missions m WHERE m.agent_id = a.id AND m.day = CAST(:as_of AS date))
           AND (last.t IS NULL OR last.t < CAST(:now AS timestamptz) - make_interval(mins => CAST(:threshold AS int)))"""),
    Rule("agent_behind_plan", "Agent à moins de la moitié de ses missions à 15 h", "warning", 50, "%", """
        SELECT 'agent', a.agent_ref, NULL,
               a.full_name || ' : ' || count(*) FILTER (WHERE m.status = 'done') || ' missions faites sur ' || count(*),
               (100.0 * count(*) FILTER (WHERE m.status = 'done') / count(*))::float8
          FROM agents a JOIN missions m ON m.agent_id = a.id AND m.day = CAST(:as_of AS date)
         WHERE CAST(:now AS timestamptz) AT TIME ZONE 'Africa/Conakry' >= CAST(:as_of AS date) + time '15:00'
         GROUP BY a.id
        HAVING 100.0 * count(*) FILTER (WHERE m.status = 'done') / count(*) < :threshold"""),
    Rule("visit_without_proof", "Visite sans preuve de présence", "warning", 200, "m", """
        SELECT 'visit', v.visit_ref, o.owner_ref,
               a.full_name || ' à ' || s.name || ' : ' || coalesce(round(v.distance_m)::text || ' m du site',
               'sans position') || coalesce(' (' || array_to_string(v.flags, ', ') || ')', ''),
               v.distance_m
          FROM visits v JOIN agents a ON a.id = v.agent_id JOIN leases l ON l.id = v.lease_id
          JOIN sites s ON s.id = l.site_id JOIN owners o ON o.id = l.owner_id
         WHERE v.visited_at >= CAST(:as_of AS date) AND v.visited_at < CAST(:as_of AS date) + 1
           AND (v.proof IS FALSE OR v.distance_m > :threshold)"""),
    Rule("tenant_late_no_contact", "Locataire à plus de 90 jours sans contact depuis 14 jours", "critical", 14, "jours", """
        SELECT 'tenant', tenant_ref, owner_ref,
               full_name || ' : ' || days_late || ' jours de retard, ' || arrears || ' GNF, dernier contact '
               || coalesce(to_char(last_contact_at AT TIME ZONE 'Africa/Conakry', 'DD/MM/YYYY'), 'jamais'),
               arrears::float8
          FROM late_tenants(CAST(:as_of AS date))
         WHERE days_late >= 90
           AND (last_contact_at IS NULL OR last_contact_at < CAST(:as_of AS date) + 1 - make_interval(days => CAST(:threshold AS int)))"""),
    Rule("lease_ending_with_arrears", "Bail se terminant dans 30 jours avec des impayés", "warning", 30, "jours", """
        SELECT 'lease', b.lease_ref, b.owner_ref,
               'Fin du bail le ' || to_char(l.end_date, 'DD/MM/YYYY') || ' avec ' || b.arrears || ' GNF d''impayés',
               b.arrears::float8
          FROM arrears_by_lease(CAST(:as_of AS date)) b JOIN leases l ON l.lease_ref = b.lease_ref
         WHERE b.arrears > 0 AND l.end_date BETWEEN CAST(:as_of AS date)
               AND CAST(:as_of AS date) + CAST(:threshold AS int)"""),
    Rule("forecast_below_due", "Prévision du mois sous le seuil de ce qui est dû", "warning", 70, "%",
         compute=forecast_below_due),
)

BY_CODE = {rule.code: rule for rule in RULES}
