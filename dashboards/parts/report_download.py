"""The "Rapport du jour" card of the owner dashboard and the desk: a date and two download buttons (PDF,
Excel) that build the daily report when clicked (akig_data.reports.files), for the page's owner filter.

A date the report cannot be made for (the future, before any data) disables the buttons and says why
before anyone clicks. Each download is written to the audit trail like the other exports; a role that
may not export (agents, ops) gets no card.
"""

from __future__ import annotations

import io
import logging

import panel as pn
import param

from akig_data.reports import gather as daily_report, files as report_files
from akig_data.access import roles
from akig_data.errors import AkigError
from akig_data.clock import today
from akig_data.access.scope import current
from dashboards.escape import escape_html, escape_markdown
from dashboards.parts.downloads import audited_export

log = logging.getLogger(__name__)


class ReportDownload(pn.viewable.Viewer):
    day = param.CalendarDate(doc="Le jour du rapport")
    owner_ref = param.String(default="", doc="Le propriétaire ('' = tous)")
    problem = param.String(default="", doc="Pourquoi le rapport ne peut pas être fait pour ce jour")

    def __init__(self, **params):
        if params.get("day") is None:
            params["day"] = today()
        super().__init__(**params)
        self.picker = pn.widgets.DatePicker(label="Date du rapport", value=min(self.day, today()), end=today(),
                                            sizing_mode="stretch_width")
        self.picker.param.watch(lambda e: setattr(self, "day", e.new) if e.new else None, "value")
        self.param.watch(lambda e: setattr(self.picker, "value", min(e.new, today())), "day")
        self.buttons = {fmt: pn.widgets.FileDownload(
            callback=lambda fmt=fmt: self._file(fmt), filename=self._filename(fmt), label=label, embed=False,
            color="primary" if fmt == "pdf" else "light", width=120, margin=(5, 5),
            css_classes=[f"akig-report-{fmt}"]) for fmt, label in (("pdf", "⬇ PDF"), ("xlsx", "⬇ Excel"))}
        self.message = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width",
                                     css_classes=["akig-report-message"])
        self.param.watch(self._check, ["day", "owner_ref"])
        self._check()

    def _filename(self, fmt: str) -> str:
        return report_files.filename(self.day, self.owner_ref or None, fmt)

    def _check(self, *_) -> None:
        """Validate the day now, so that a click always gives a file."""
        try:
            daily_report.check_day(self.day, self.owner_ref or None)
            self.problem = ""
        except AkigError as exc:
            self.problem = str(exc)
        for fmt, button in self.buttons.items():
            button.param.update(disabled=bool(self.problem), filename=self._filename(fmt))
        # the refusal may repeat the owner_ref, which comes from the page's URL: shown as text
        self.message.param.update(object=escape_markdown(self.problem), visible=bool(self.problem))

    def _file(self, fmt: str) -> io.BytesIO:
        owner_ref = self.owner_ref or None
        try:
            report = daily_report.build(self.day, owner_ref)
        except AkigError as exc:   # e.g. the database went away since the date was checked
            self.message.param.update(object=escape_markdown(exc), visible=True)
            raise
        data = report_files.renderer(fmt)(report)
        audited_export(report_files.filename(self.day, owner_ref, fmt).rsplit(".", 1)[0], fmt,
                       sum(len(table) for table in report.tables.values()))
        return io.BytesIO(data)

    def _heading(self, owner_ref: str) -> str:
        scope = f"le propriétaire {escape_html(owner_ref)}" if owner_ref else "tous les propriétaires"
        return (f"<b>Rapport du jour</b><br><span style='color:#5f6b73;font-size:0.85em'>Pour {scope}, "
                "en PDF (A4) ou Excel.</span>")

    def __panel__(self):
        return pn.Column(
            pn.pane.HTML(pn.bind(self._heading, self.param.owner_ref), margin=(10, 10, 0, 10)),
            self.picker, pn.Row(*self.buttons.values(), margin=0), self.message,
            sizing_mode="stretch_width", css_classes=["akig-report"])


def report_card(**params) -> ReportDownload | None:
    """The card for this session, or None for a role that may not export."""
    who = current()
    if who is not None and not roles.can_export(who.role):
        return None
    return ReportDownload(**params)

