"""The daily report as a PDF (reportlab): A4, French, the AKIG header and "Page N sur M" on every page.

It lays out the tables `akig_data.reports.gather.build` gathered (so the PDF's numbers are the reads'
numbers) with amounts written the French way ("1 250 000", the heading saying GNF), and draws the arrears-by-age chart with
matplotlib in the dashboards' colours. DejaVu Sans (shipped with matplotlib) is embedded so every name
and symbol prints, and the text can be read back (pdftotext, pypdf).

A long table (the new alerts on a day the rules first run) is cut in the PDF with a line saying how many
rows are left out; the Excel workbook keeps every row.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from akig_data.reports.gather import BUCKET_COLOURS, BUCKETS, PROMISE_STATUSES, DailyReport
from akig_data.reports.spreadsheet import format_gnf
from akig_data.clock import TZ

GREEN = colors.HexColor("#0B6E4F")
GREY = colors.HexColor("#5F6B73")
ROW_LIMIT = 40          # rows of one table printed in the PDF (the workbook has them all)
MARGIN = 15 * mm

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"


def _register_fonts() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)   # <b> in cells


STYLES = {
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=15, leading=19, textColor=GREEN, spaceAfter=2),
    "scope": ParagraphStyle("scope", fontName=FONT, fontSize=9, leading=12, textColor=GREY, spaceAfter=6),
    "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=11, leading=14, textColor=GREEN, spaceBefore=10, spaceAfter=4),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=7.5, leading=9),
    "head": ParagraphStyle("head", fontName=BOLD, fontSize=7.5, leading=9, textColor=colors.white),
    "note": ParagraphStyle("note", fontName=FONT, fontSize=8, leading=10, textColor=GREY, spaceBefore=2),
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _grouped(value: float | int) -> str:
    """1250000 -> '1 250 000' (narrow no-break spaces); the column or row heading says the unit."""
    return f"{int(round(value)):,}".replace(",", "\u202f")


def _signed(value: float | int, money: bool) -> str:
    if money:
        return ("+" if value > 0 else "") + _grouped(value)
    return ("+" if value > 0 else "") + f"{value:.1f}".replace(".", ",") + " pt"


def format_cell(column: str, value: object, row_label: str = "") -> str:
    """How a value is printed in a table: money as '1 250 000' under a '(GNF)' heading, rates with a
    decimal comma, blanks as '—'."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        money = "GNF" in column or "GNF" in row_label
        rate = "%" in row_label or column == "Score"
        if column.startswith("Écart"):
            return _signed(value, money) if (money or rate) else f"{int(value):+d}"
        if money:
            return _grouped(value)
        if rate:
            return f"{float(value):.1f}".replace(".", ",") + (" %" if "%" in row_label else "")
        return _grouped(value)
    return str(value)


def _column_widths(headers: list[str], cells: list[list[str]], numeric: list[bool], width: float) -> list[float]:
    """Each column as wide as its widest value; when the table is too wide, the long text columns share
    what the numbers and short codes leave (their text wraps); spare space is shared out."""
    size, padding = STYLES["cell"].fontSize, 14   # the table's cell padding is 6 + 6
    natural = [max([pdfmetrics.stringWidth(word, BOLD, size) for word in h.split()]
                   + [pdfmetrics.stringWidth(line[k], FONT, size) for line in cells]) + padding
               for k, h in enumerate(headers)]
    flexible = [k for k, num in enumerate(numeric) if not num and natural[k] > 70]
    fixed = sum(w for k, w in enumerate(natural) if k not in flexible)
    wanted = sum(natural[k] for k in flexible)
    if flexible and fixed + wanted > width and width - fixed > 45 * len(flexible):
        for k in flexible:   # the long text columns share what the short ones leave, and wrap
            natural[k] *= (width - fixed) / wanted
    return [w * width / sum(natural) for w in natural]


def _table(frame: pd.DataFrame, width: float, total: bool = False) -> list:
    """A table that fits the page width, its header repeated on every page; numbers right-aligned."""
    shown = frame.head(ROW_LIMIT)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) or c.startswith(("Jour", "Veille", "Écart", "Mois"))
               for c in frame.columns]
    label_column = "Indicateur" if "Indicateur" in frame.columns else None
    cells = [[format_cell(c, record[c], str(record[label_column]) if label_column else "") for c in frame.columns]
             for _, record in shown.iterrows()]
    if total and len(frame):
        cells.append(["Total"] + [format_cell(c, int(frame[c].sum())) if num else ""
                                  for c, num in zip(frame.columns[1:], numeric[1:])])
    rows = [[Paragraph(_escape(c), STYLES["head"]) for c in frame.columns]]
    for i, line in enumerate(cells):
        bold = total and i == len(cells) - 1
        # Numbers are plain strings (never wrapped: a Paragraph would break at the thousands' spaces).
        rows.append([v if num else Paragraph(f"<b>{_escape(v)}</b>" if bold else _escape(v), STYLES["cell"])
                     for v, num in zip(line, numeric)])
    widths = _column_widths(list(frame.columns), cells, numeric, width)
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [("BACKGROUND", (0, 0), (-1, 0), GREEN), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
             ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#C8D1D7")),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
             ("FONT", (0, 1), (-1, -1), BOLD if total and cells else FONT, STYLES["cell"].fontSize),
             ("FONT", (0, 1), (-1, -2 if total and cells else -1), FONT, STYLES["cell"].fontSize)]
    style += [("ALIGN", (k, 1), (k, -1), "RIGHT") for k, num in enumerate(numeric) if num]
    style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#F3F6F8")) for i in range(2, len(rows), 2)]
    table.setStyle(TableStyle(style))
    flow: list = [table]
    if len(frame) > ROW_LIMIT:
        flow.append(Paragraph(f"… et {len(frame) - ROW_LIMIT} autres lignes (toutes dans le fichier Excel).",
                              STYLES["note"]))
    return flow


def aging_chart(aging: pd.DataFrame) -> io.BytesIO:
    """Horizontal bars of arrears by age, in millions of GNF, each labelled with its exact amount."""
    figure = Figure(figsize=(7.0, 2.3), dpi=200)
    axes = figure.add_subplot()
    values = [int(v) for v in aging["Impayés (GNF)"]]
    labels = list(aging["Ancienneté"])
    axes.barh(labels[::-1], [v / 1e6 for v in values[::-1]], color=[BUCKET_COLOURS[c] for c in BUCKETS][::-1])
    for y, value in enumerate(values[::-1]):
        axes.annotate(format_gnf(value), (value / 1e6, y), xytext=(4, 0), textcoords="offset points",
                      va="center", fontsize=8)
    axes.set_xlabel("millions GNF", fontsize=8)
    axes.tick_params(labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xlim(0, max(values + [1]) / 1e6 * 1.35)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    return buffer


def _promise_summary(promises: pd.DataFrame) -> str:
    counts = promises["Statut"].value_counts()
    parts = [f"{int(counts.get(label, 0))} {label}{'s' if counts.get(label, 0) > 1 and label != 'en attente' else ''}"
             for label in PROMISE_STATUSES.values()]
    return f"{len(promises)} promesse(s) arrivée(s) à échéance : " + ", ".join(parts) + "."


def _alert_summary(opened: pd.DataFrame) -> str:
    if opened.empty:
        return "Aucune nouvelle alerte ce jour."
    counts = opened["Gravité"].value_counts()
    return f"{len(opened)} nouvelle(s) alerte(s) : " + ", ".join(f"{int(n)} {label.lower()}" for label, n in counts.items()) + "."


class _NumberedCanvas(canvas.Canvas):
    """Holds the pages back until the end so that each can say "Page N sur M"."""

    def __init__(self, *args, header: tuple[str, str] = ("", ""), **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._header = header

    def showPage(self):  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        for page in self._pages:
            self.__dict__.update(page)
            self._decorate(len(self._pages))
            super().showPage()
        super().save()

    def _decorate(self, pages: int) -> None:
        width, height = A4
        self.setFillColor(GREEN)
        self.setFont(BOLD, 13)
        self.drawString(MARGIN, height - 11 * mm, "AKIG")
        self.setFont(FONT, 8)
        self.setFillColor(GREY)
        self.drawString(MARGIN + 14 * mm, height - 11 * mm, self._header[0])
        self.drawRightString(width - MARGIN, height - 11 * mm, self._header[1])
        self.setStrokeColor(GREEN)
        self.setLineWidth(0.8)
        self.line(MARGIN, height - 13 * mm, width - MARGIN, height - 13 * mm)
        self.drawRightString(width - MARGIN, 9 * mm, f"Page {self._pageNumber} sur {pages}")
        self.drawString(MARGIN, 9 * mm, "AKIG — recouvrement des loyers, Conakry")


def render(report: DailyReport, generated_at: dt.datetime | None = None) -> bytes:
    """The report as PDF bytes."""
    _register_fonts()
    generated_at = (generated_at or dt.datetime.now(TZ)).astimezone(TZ)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=20 * mm,
                                 bottomMargin=16 * mm, title=f"AKIG — rapport du {report.day:%d/%m/%Y}",
                                 author="AKIG", subject=f"Rapport du jour ({report.scope})")
    width = A4[0] - 2 * MARGIN
    t = report.tables

    def section(title: str, name: str, nothing: str, total: bool = False) -> list:
        """A heading and its table, or a sentence when the day has nothing to show."""
        frame = t[name]
        return [Paragraph(title, STYLES["h2"]),
                *(_table(frame, width, total) if len(frame) else [Paragraph(nothing, STYLES["note"])])]

    story: list = [
        Paragraph(f"Rapport du jour — {report.day:%d/%m/%Y}", STYLES["title"]),
        Paragraph(_escape(f"Périmètre : {report.scope}. Généré le {generated_at:%d/%m/%Y à %H:%M} (heure de Conakry). "
                          "Montants en francs guinéens (GNF)."), STYLES["scope"]),
        *section("Indicateurs du jour et du mois", "Indicateurs", ""),
        Paragraph("« Veille » : la veille ; « Mois dernier, mêmes jours » : du 1er au même jour du mois précédent.",
                  STYLES["note"]),
        *section("Encaissé ce jour par moyen de paiement", "Encaissé par moyen", "Aucun paiement enregistré ce jour.",
                 total=True),
        KeepTogether([Paragraph("Impayés par ancienneté", STYLES["h2"]),
                      Image(aging_chart(t["Impayés par ancienneté"]), width=width, height=width * 2.3 / 7.0),
                      *_table(t["Impayés par ancienneté"], width, total=True)]),
    ]
    if "Journée des agents" in t:
        story += [*section("Journée des agents", "Journée des agents", "Aucune activité enregistrée ce jour.", total=True),
                  *section("Podium du jour", "Podium", "Pas de classement ce jour.")]
    story += [Paragraph("Promesses tenues et non tenues", STYLES["h2"]),
              Paragraph(_escape(_promise_summary(t["Promesses du jour"])), STYLES["note"])]
    if len(t["Promesses du jour"]):
        story += _table(t["Promesses du jour"], width)
    story += [Paragraph("Nouvelles alertes", STYLES["h2"]), Paragraph(_escape(_alert_summary(t["Nouvelles alertes"])),
                                                                      STYLES["note"])]
    if len(t["Nouvelles alertes"]):
        story += _table(t["Nouvelles alertes"], width)
    story += [*section("Les dix plus gros impayés", "Dix plus gros impayés", "Aucun impayé à cette date."),
              *section("Locataires à risque : à appeler avant l'échéance", "Locataires à risque",
                       "Aucun bail en cours à cette date."),
              # the detail last: the first page is the day at a glance
              *section("Détail : encaissé ce jour par site", "Encaissé par site", "Aucun paiement enregistré ce jour.",
                       total=True),
              Spacer(1, 4 * mm)]
    header = (f"Rapport du jour — {report.day:%d/%m/%Y}", report.scope)
    document.build(story, canvasmaker=lambda *a, **k: _NumberedCanvas(*a, header=header, **k))
    return buffer.getvalue()


def write(report: DailyReport, path: Path | str) -> Path:
    path = Path(path)
    path.write_bytes(render(report))
    return path
