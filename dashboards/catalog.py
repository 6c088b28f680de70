"""The apps the one server serves: path, French title and description. The home page lists them and
the server maps each path to its factory. Later apps add one entry here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class AppEntry:
    path: str
    title: str
    description: str
    factory: Callable[[], object]
    icon: str = ""


def entries() -> list[AppEntry]:
    from dashboards import alerts_page, audit_page, desk, home, leaderboard_app, live_map, owner_dashboard

    return [
        AppEntry("/", "Accueil", "Synthèse du portefeuille et accès aux applications.", home.create, "🏠"),
        AppEntry("/proprietaire", "Tableau de bord propriétaire",
                 "Impayés, recouvrement et ponctualité par période, sites, locataires en retard, bons payeurs, "
                 "fiche et relevé de chaque locataire, recherche.", owner_dashboard.create, "📊"),
        AppEntry("/recouvrement", "Recouvrement",
                 "Missions du jour par agent, fiche du locataire, appels, visites, promesses et paiements, "
                 "chiffres de la journée.", desk.create, "📞"),
        AppEntry("/classement", "Classement des agents",
                 "Podium du jour, classement du mois, évolution et détail de chaque agent.", leaderboard_app.create, "🏆"),
        AppEntry("/carte", "Carte en direct",
                 "Sites en retard, positions des agents en temps réel, traces et tournées du jour, "
                 "réoptimisation d'une tournée, relecture de la journée d'un agent.", live_map.create, "🗺️"),
        AppEntry("/alertes", "Alertes",
                 "Alertes métier par sévérité : impayés, promesses, agents, visites, baux ; prise en compte et "
                 "historique.", alerts_page.create, "🔔"),
        AppEntry("/admin/journal", "Journal d'audit",
                 "Qui a fait quoi, quand et d'où ; vérification de la chaîne d'empreintes.", audit_page.create, "🔏"),
    ]
