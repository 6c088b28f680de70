"""The apps the one server serves: path, French title, description and icon. The home page lists them;
the server (`dashboards.server.app`) maps each path to its app. This module imports no app, so an app may
read the catalog without importing itself in a circle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppEntry:
    path: str
    title: str
    description: str
    icon: str = ""


def entries() -> list[AppEntry]:
    return [
        AppEntry("/", "Accueil", "Synthèse du portefeuille et accès aux applications.", "🏠"),
        AppEntry("/proprietaire", "Tableau de bord propriétaire",
                 "Impayés, recouvrement et ponctualité par période, sites, locataires en retard, bons payeurs, "
                 "fiche et relevé de chaque locataire, recherche.", "📊"),
        AppEntry("/recouvrement", "Recouvrement",
                 "Missions du jour par agent, fiche du locataire, appels, visites, promesses et paiements, "
                 "chiffres de la journée.", "📞"),
        AppEntry("/classement", "Classement des agents",
                 "Podium du jour, classement du mois, évolution et détail de chaque agent.", "🏆"),
        AppEntry("/carte", "Carte en direct",
                 "Sites en retard, positions des agents en temps réel, traces et tournées du jour, "
                 "réoptimisation d'une tournée, relecture de la journée d'un agent.", "🗺️"),
        AppEntry("/alertes", "Alertes",
                 "Alertes métier par sévérité : impayés, promesses, agents, visites, baux ; prise en compte et "
                 "historique.", "🔔"),
        AppEntry("/admin/journal", "Journal d'audit",
                 "Qui a fait quoi, quand et d'où ; vérification de la chaîne d'empreintes.", "🔏"),
    ]
