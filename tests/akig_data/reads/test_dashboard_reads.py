"""The owner dashboard's reads agree with the foundation reads they summarise, and respect scope."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from akig_data import reads
from akig_data.errors import InvalidParameter
from tests.conftest import SMALL_UNTIL

MONTH = (SMALL_UNTIL.replace(day=1), SMALL_UNTIL)


def test_period_kpis_sum_the_site_kpis(small_data):
    kpi = reads.period_kpis(date_from=MONTH[0], date_to=MONTH[1]).iloc[0]
    sites = reads.site_kpis(date_from=MONTH[0], date_to=MONTH[1])
    for column in ("due", "collected", "dues", "on_time_dues", "arrears", "late_leases"):
        assert kpi[column] == sites[column].sum(), column
    assert kpi["collection_rate"] == pytest.approx(sites["collected"].sum() / sites["due"].sum())
    lease = reads.arrears_by_lease(as_of=MONTH[1])
    assert kpi["late_tenants"] == lease.loc[lease["arrears"] > 0, "tenant_ref"].nunique()


def test_period_kpis_of_one_site_equal_its_row(small_data):
    sites = reads.site_kpis(date_from=MONTH[0], date_to=MONTH[1]).set_index("site_ref")
    site = sites.index[0]
    kpi = reads.period_kpis(date_from=MONTH[0], date_to=MONTH[1], site_ref=site).iloc[0]
    for column in ("due", "collected", "dues", "on_time_dues", "arrears", "late_leases"):
        assert kpi[column] == sites.loc[site, column], column


def test_monthly_trend_months_equal_site_kpis_of_each_month(small_data):
    trend = reads.monthly_trend(as_of=SMALL_UNTIL, months=3)
    assert list(trend["month"]) == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]
    for _, row in trend.iterrows():
        end = (pd.Timestamp(row["month"]) + pd.offsets.MonthEnd(0)).date()
        sites = reads.site_kpis(date_from=row["month"], date_to=min(end, SMALL_UNTIL))
        assert (row["due"], row["collected"], row["on_time_dues"]) == (
            sites["due"].sum(), sites["collected"].sum(), sites["on_time_dues"].sum())
    with pytest.raises(InvalidParameter, match="months must be from 1 to 120"):
        reads.monthly_trend(months=0)


def test_site_units_list_every_unit_with_a_status(small_data):
    site = reads.sites().iloc[0]
    units = reads.site_units(site_ref=site["site_ref"], as_of=SMALL_UNTIL)
    assert len(units) == site["units"]
    assert set(units["status"]) <= {"vacant", "late", "up_to_date"}
    assert ((units["status"] == "late") == (units["arrears"] > 0)).all()
    kpi = reads.site_kpis(date_from=MONTH[0], date_to=MONTH[1]).set_index("site_ref").loc[site["site_ref"]]
    assert (units["status"] != "vacant").sum() == kpi["occupied_units"]


def test_late_tenants_are_ranked_and_counted(small_data):
    late = reads.late_tenants(as_of=SMALL_UNTIL)
    lease = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    per_tenant = lease[lease["arrears"] > 0].groupby("tenant_ref")["arrears"].sum()
    assert len(late) == len(per_tenant)
    assert list(late["arrears"]) == sorted(late["arrears"], reverse=True)
    assert late.set_index("tenant_ref")["arrears"].to_dict() == per_tenant.to_dict()
    top = reads.late_tenants(as_of=SMALL_UNTIL, limit=10)
    assert list(top["tenant_ref"]) == list(late["tenant_ref"][:10])
    contacted = late.dropna(subset=["last_contact_at"])
    assert len(contacted) > 0
    assert (contacted["last_contact_at"].dt.date <= SMALL_UNTIL).all()
    assert set(contacted["last_contact_kind"]) <= {"call", "visit"}


def test_tenant_card_ledger_and_timeline_agree(small_data):
    tenant = reads.late_tenants(as_of=SMALL_UNTIL, limit=1).iloc[0]["tenant_ref"]
    card = reads.tenant_card(tenant_ref=tenant, as_of=SMALL_UNTIL).iloc[0]
    lease = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    assert card["arrears"] == lease.loc[lease["tenant_ref"] == tenant, "arrears"].sum()
    assert card["arrears"] == card[["bucket_0_30", "bucket_31_60", "bucket_61_90", "bucket_90_plus"]].sum()
    leases = reads.tenant_leases(tenant_ref=tenant, as_of=SMALL_UNTIL)
    ledger = reads.tenant_ledger(tenant_ref=tenant, as_of=SMALL_UNTIL)
    for _, row in leases.iterrows():
        entries = ledger[ledger["lease_ref"] == row["lease_ref"]]
        assert entries.iloc[-1]["balance"] == row["arrears"] - row["credit"]
        assert entries["due"].sum() == row["due_total"] and entries["paid"].sum() == row["paid"]
        assert entries["unpaid_at_as_of"].sum() == row["arrears"]
    timeline = reads.tenant_timeline(tenant_ref=tenant, as_of=SMALL_UNTIL)
    assert set(timeline["kind"]) <= {"call", "visit", "promise", "payment"}
    assert timeline["at"].is_monotonic_decreasing


def test_refs_outside_the_owner_scope_are_unknown(small_data):
    sites = reads.sites()
    mine = sites[sites["owner_ref"] == "OWN-0001"]["site_ref"].iloc[0]
    other = sites[sites["owner_ref"] != "OWN-0001"]["site_ref"].iloc[0]
    assert not reads.site_units(site_ref=mine, owner_ref="OWN-0001").empty
    with pytest.raises(InvalidParameter, match=f"Site inconnu : {other}"):
        reads.site_units(site_ref=other, owner_ref="OWN-0001")
    with pytest.raises(InvalidParameter, match="Site inconnu"):
        reads.period_kpis(site_ref=other, owner_ref="OWN-0001")
    late = reads.late_tenants(as_of=SMALL_UNTIL)
    foreign = late[late["owner_ref"] != "OWN-0001"]["tenant_ref"].iloc[0]
    lease = reads.arrears_by_lease(as_of=SMALL_UNTIL)
    if "OWN-0001" not in set(lease[lease["tenant_ref"] == foreign]["owner_ref"]):
        for read in (reads.tenant_card, reads.tenant_leases, reads.tenant_ledger, reads.tenant_timeline):
            with pytest.raises(InvalidParameter, match=f"Locataire inconnu : {foreign}"):
                read(tenant_ref=foreign, owner_ref="OWN-0001")
    with pytest.raises(InvalidParameter, match="Locataire inconnu : NOBODY"):
        reads.tenant_card(tenant_ref="NOBODY")


def test_punctuality_by_cohort_adds_up_to_the_period(small_data):
    year = (SMALL_UNTIL.replace(year=SMALL_UNTIL.year - 1) + dt.timedelta(days=1), SMALL_UNTIL)
    cohorts = reads.punctuality_by_cohort(date_from=year[0], date_to=year[1])
    kpi = reads.period_kpis(date_from=year[0], date_to=year[1]).iloc[0]
    assert cohorts["dues"].sum() == kpi["dues"] and cohorts["on_time_dues"].sum() == kpi["on_time_dues"]
    assert (cohorts["cohort"].map(lambda d: d.day) == 1).all()
    assert cohorts["punctuality_rate"].between(0, 1).all()
