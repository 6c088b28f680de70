"""Guinean given names and family names (Peul, Malinké, Soussou, Forestier) for synthetic people."""

MALE = [
    "Mamadou", "Alpha", "Ibrahima", "Ousmane", "Amadou", "Abdoulaye", "Sékou", "Mohamed", "Fodé", "Lansana",
    "Thierno", "Boubacar", "Souleymane", "Aboubacar", "Moussa", "Saliou", "Elhadj", "Karamo", "Mory", "Sidiki",
    "Lamine", "Cellou", "Oumar", "Bakary", "Facinet", "Naby", "Kabinet", "Almamy", "Issiaga", "Yaya",
]
FEMALE = [
    "Mariama", "Fatoumata", "Aïssatou", "Kadiatou", "Hawa", "Mariame", "Djénabou", "Oumou", "Nènè", "Binta",
    "Aminata", "Saran", "M'Balia", "Fanta", "Salématou", "Hadja", "Ramatoulaye", "Kadidiatou", "Safiatou",
    "Makalé", "Tiguidanké", "Maïmouna", "Néné", "Adama", "Sayon", "Fatou", "Bountouraby", "Mabinty",
]
SURNAMES = [
    "Diallo", "Barry", "Bah", "Sow", "Camara", "Keïta", "Condé", "Kourouma", "Touré", "Sylla", "Soumah",
    "Bangoura", "Cissé", "Kaba", "Traoré", "Doumbouya", "Konaté", "Baldé", "Sidibé", "Fofana", "Kanté",
    "Yansané", "Millimono", "Loua", "Haba", "Guilavogui", "Kolié", "Diakité", "Sacko", "Fadiga", "Chérif",
    "Tounkara", "Savané", "Kamano", "Onivogui", "Béavogui", "Dramé", "Sangaré", "Magassouba", "Koïvogui",
]
COMPANY_FORMS = ["SCI", "Société Immobilière", "Groupe", "Établissements", "Immobilière"]
