"""Conakry's five communes and some of their quartiers, with approximate centre coordinates.

Coordinates are plausible centres (to a few hundred metres), enough to put markers in the right part of
the peninsula; rent levels are rough monthly GNF figures for a two-room flat, used only to make the demo
data's rents differ between communes as they do in life.
"""

# commune -> (typical rent of a 2-room flat in GNF, [(quartier, lat, lon), ...])
COMMUNES: dict[str, tuple[int, list[tuple[str, float, float]]]] = {
    "Kaloum": (2_500_000, [
        ("Boulbinet", 9.5155, -13.7125), ("Almamya", 9.5105, -13.7105), ("Coronthie", 9.5190, -13.7050),
        ("Sandervalia", 9.5125, -13.7075), ("Tombo", 9.5230, -13.6960), ("Kouléwondy", 9.5085, -13.7150),
        ("Manquepas", 9.5150, -13.7030), ("Témenetaye", 9.5200, -13.7000),
    ]),
    "Dixinn": (2_000_000, [
        ("Dixinn Centre", 9.5420, -13.6770), ("Landréah", 9.5380, -13.6830), ("Belle-Vue", 9.5450, -13.6720),
        ("Camayenne", 9.5350, -13.6880), ("Minière", 9.5560, -13.6700), ("Hafia", 9.5500, -13.6640),
        ("Kénien", 9.5480, -13.6800),
    ]),
    "Matam": (1_300_000, [
        ("Madina", 9.5520, -13.6560), ("Bonfi", 9.5460, -13.6480), ("Matam Centre", 9.5550, -13.6450),
        ("Coléah", 9.5400, -13.6580), ("Hermakono", 9.5600, -13.6400), ("Boussoura", 9.5430, -13.6620),
    ]),
    "Ratoma": (1_800_000, [
        ("Kipé", 9.6030, -13.6520), ("Nongo", 9.6300, -13.6400), ("Lambanyi", 9.6400, -13.6250),
        ("Taouyah", 9.5850, -13.6600), ("Koloma", 9.6150, -13.6150), ("Hamdallaye", 9.5780, -13.6480),
        ("Kaporo", 9.6200, -13.6500), ("Sonfonia", 9.6650, -13.5900), ("Ratoma Centre", 9.5950, -13.6550),
        ("Cosa", 9.6050, -13.6280), ("Wanindara", 9.6350, -13.6000),
    ]),
    "Matoto": (1_100_000, [
        ("Matoto Centre", 9.5800, -13.6000), ("Dabompa", 9.5950, -13.5850), ("Kissosso", 9.5600, -13.6150),
        ("Sangoyah", 9.5900, -13.5700), ("Enta", 9.6050, -13.5600), ("Yimbaya", 9.5700, -13.6100),
        ("Tombolia", 9.6100, -13.5700), ("Gbessia", 9.5750, -13.6200), ("Simbaya", 9.5850, -13.6050),
    ]),
}

# Share of sites per commune (Ratoma and Matoto are the big residential communes).
COMMUNE_WEIGHTS = {"Kaloum": 0.10, "Dixinn": 0.17, "Matam": 0.15, "Ratoma": 0.33, "Matoto": 0.25}

# (label prefix, rent factor against a 2-room flat, weight)
UNIT_KINDS = [
    ("Studio", 0.55, 0.22), ("Appartement 2 pièces", 1.0, 0.34), ("Appartement 3 pièces", 1.6, 0.22),
    ("Villa", 3.0, 0.06), ("Magasin", 1.2, 0.12), ("Bureau", 2.2, 0.04),
]

SITE_PREFIXES = ["Résidence", "Immeuble", "Cité", "Villas", "Complexe", "Résidence", "Immeuble"]
SITE_NAMES = [
    "Les Palmiers", "Belle-Vue", "Le Bambou", "Atlantique", "Nimba", "Fouta", "Soumba", "Konkouré", "Kakimbo",
    "Le Niger", "Sabou", "Les Cocotiers", "Kalum", "Tamara", "Les Îles de Loos", "Fria", "Kindia", "Le Baobab",
    "Le Fromager", "Les Manguiers", "Boké", "Le Rocher", "La Corniche", "Kassa", "Dubréka", "Sangaréah",
    "Camp Boiro", "Le Prima", "Bellevue Plage", "Les Orangers", "Madina Gare", "Le Marché", "La Paix", "Nafaya",
]
