"""The apps' tables speak French: amounts, rates and counts with thin-space thousands, identifiers plain."""

from __future__ import annotations

import pandas as pd

from dashboards.widgets.tables import COUNT, IDENTIFIER, MONEY, PERCENT, table


def test_counts_get_french_thousands_and_identifiers_stay_plain():
    frame = pd.DataFrame({
        "N°": [1286, 7], "Site": ["SITE-0001", "SITE-0002"], "Baux en retard": [1286, 3],
        "Impayés (GNF)": [1_250_000, 0], "Taux (%)": [42.5, 100.0], "Actif": [True, False],
    })
    widget = table(frame, money=("Impayés (GNF)",), percent=("Taux (%)",))
    assert widget.formatters["Baux en retard"] == COUNT == {**MONEY}
    assert COUNT["thousand"] == "\u202f"   # "1 286", not Tabulator's English "1,286"
    assert widget.formatters["N°"] == IDENTIFIER
    assert widget.formatters["Impayés (GNF)"] == MONEY and widget.formatters["Taux (%)"] == PERCENT
    assert "Site" not in widget.formatters and "Actif" not in widget.formatters   # text and booleans as they are
    assert widget.text_align["Baux en retard"] == "right" and "N°" not in widget.text_align


def test_a_formatter_given_by_the_caller_wins():
    frame = pd.DataFrame({"Jours": [1200], "Lien": ["<a href='/x'>voir</a>"]})
    widget = table(frame, formatters={"Jours": {"type": "plaintext"}, "Lien": {"type": "html"}})
    assert widget.formatters == {"Jours": {"type": "plaintext"}, "Lien": {"type": "html"}}
