"""Invoices, credit notes and tax certificates as PDF, drawn with fpdf2 (pure Python, maintained,
installs from a wheel) in DejaVu Sans, shipped with the node (``data/dejavu/``, vendored by
``scripts/vendor.sh``) and embedded in each PDF as a subset of the glyphs it uses, as PDF/A asks of
every font. Text is Unicode throughout; amounts are printed with "EUR".

A document is first drawn with the reduced copy of the font (:mod:`node.telemanagement.fonts`, the
Latin, Greek and Cyrillic blocks, four times cheaper for fpdf2 to parse); every text passes through
:meth:`_Page.text_line` or :meth:`_Page.row`, which stop the drawing at the first character the
reduced font lacks, and the document is then drawn again with the full font."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import OutputIntentSubType
from fpdf.fonts import TTFFont
from fpdf.output import PDFICCProfile
from PIL import ImageCms

from node.telemanagement import fonts

# sRGB as an ICC profile (made by Pillow's littlecms), the output intent PDF/A asks for.
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
FAMILY = "Sans"


def euros(cents: int) -> str:
    value = (Decimal(cents) / 100).quantize(Decimal("0.01"))
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",") + " EUR"


def hours(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d}"


class _Uncovered(Exception):
    """A text has a character the reduced font lacks."""


class _Page(FPDF):
    def __init__(self, title: str, *, reduced: bool) -> None:
        super().__init__(format="A4")
        self.reduced = reduced
        for full, small, style in fonts.FACES:
            self.add_font(FAMILY, style, fonts.FONTS / (small if reduced else full))
        self.set_title(title)
        self.set_creator("ASASAP")
        self.add_output_intent(
            OutputIntentSubType.PDFA,
            "sRGB",
            registry_name="http://www.color.org",
            dest_output_profile=PDFICCProfile(contents=SRGB_ICC, n=3, alternate="DeviceRGB"),
            info="sRGB",
        )
        self.set_auto_page_break(auto=True, margin=15)
        self.add_page()

    def _check(self, text: str) -> None:
        if self.reduced and not fonts.covers((text,)):
            for font in self.fonts.values():
                if isinstance(font, TTFFont):
                    font.ttfont.close()  # the files fpdf2 reads lazily, closed when it writes the PDF
            raise _Uncovered

    def text_line(self, text: str, *, size: int = 10, bold: bool = False, height: float = 5) -> None:
        self._check(text)
        self.set_font(FAMILY, "B" if bold else "", size)
        self.multi_cell(0, height, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def row(self, cells: list[tuple[str, float]], *, bold: bool = False) -> None:
        for text, _ in cells:
            self._check(text)
        self.set_font(FAMILY, "B" if bold else "", 8)
        for text, width in cells:
            self.cell(width, 6, self._fit(text, width - 2), border=1)
        self.ln()

    def _fit(self, text: str, width: float) -> str:
        """``text`` cut (with "...") to the cell's width."""
        if self.get_string_width(text) <= width:
            return text
        while text and self.get_string_width(text + "...") > width:
            text = text[:-1]
        return text.rstrip() + "..."


def _drawn(draw: Callable[[dict[str, Any], bool], bytes], content: dict[str, Any]) -> bytes:
    """The document drawn with the reduced font if it has every character, else with the full one."""
    try:
        return draw(content, True)
    except _Uncovered:
        return draw(content, False)


def _party(page: _Page, title: str, party: dict[str, str]) -> None:
    page.text_line(title, bold=True)
    page.text_line(party["name"])
    if party.get("address"):
        page.text_line(party["address"])


def invoice_pdf(content: dict[str, Any]) -> bytes:
    """An invoice drawn from its frozen content (:func:`node.telemanagement.invoices.content_of`)."""
    return _drawn(_invoice, content)


def _invoice(content: dict[str, Any], reduced: bool) -> bytes:
    page = _Page(f"Facture {content['number']}", reduced=reduced)
    issuer = content["issuer"]
    page.text_line(f"Facture n° {content['number']}", size=16, bold=True, height=9)
    page.text_line(f"Date : {content['issued_on']}  -  Période : {content['month']}")
    page.ln(2)
    _party(page, "Prestataire", issuer)
    for key in ("siren_line", "declaration_line", "agrement_line"):
        if issuer.get(key):
            page.text_line(issuer[key])
    page.ln(2)
    _party(page, "Client", content["client"])
    beneficiary = content["beneficiary"]
    page.text_line(
        f"Bénéficiaire : {beneficiary['name']}"
        + (f", {beneficiary['address']}" if beneficiary["address"] else "")
    )
    page.text_line(
        f"Financeur : {content['funder']['name']}  -  Dossier (plan d'aide) : {content['folder_number']}"
    )
    page.ln(2)
    page.text_line(
        f"Tarif horaire : {euros(content['hourly_rate_cents'])}  -  "
        f"Participation du bénéficiaire : {Decimal(content['participation_bp']) / 100} %"
    )
    page.ln(1)
    widths = [20.0, 22.0, 60.0, 28.0, 20.0, 26.0]
    page.row(
        list(zip(["Date", "Horaires", "Prestation", "Intervenant", "Durée", "Montant"], widths, strict=True)),
        bold=True,
    )
    for line in content["lines"]:
        page.row(
            list(
                zip(
                    [
                        line["day"],
                        f"{line['start']}-{line['end']}",
                        line["activity_label"],
                        line["worker"],
                        hours(line["minutes"]) + (f" {line['code']}" if line["code"] else ""),
                        euros(line["amount_cents"]),
                    ],
                    widths,
                    strict=True,
                )
            )
        )
    page.ln(2)
    page.text_line(
        f"Total des prestations : {hours(content['minutes'])}, {euros(content['amount_cents'])}", bold=True
    )
    if content["allowance_cents"]:
        page.text_line(f"{content['allowance_reason']} : - {euros(content['allowance_cents'])}")
    page.text_line(f"Part du financeur : {euros(content['funder_cents'])}")
    page.text_line(f"Part du bénéficiaire : {euros(content['beneficiary_cents'])}")
    page.text_line(
        f"Montant dû par {content['client']['name']} : {euros(content['total_cents'])}", size=12, bold=True
    )
    page.ln(2)
    for mention in content["mentions"]:
        page.text_line(mention, size=8, height=4)
    return bytes(page.output())


def credit_note_pdf(content: dict[str, Any]) -> bytes:
    """A credit note drawn from its frozen content (:mod:`node.telemanagement.credit_notes`)."""
    return _drawn(_credit_note, content)


def _credit_note(content: dict[str, Any], reduced: bool) -> bytes:
    page = _Page(f"Avoir {content['number']}", reduced=reduced)
    page.text_line(f"Avoir n° {content['number']}", size=16, bold=True, height=9)
    page.text_line(f"Date : {content['issued_on']}  -  Période : {content['month']}")
    page.text_line(
        f"Rectifie la facture n° {content['corrects']} du {content['corrects_issued_on']}", bold=True
    )
    page.ln(2)
    _party(page, "Prestataire", content["issuer"])
    page.ln(2)
    _party(page, "Client", content["client"])
    page.text_line(
        f"Financeur : {content['funder']['name']}  -  Dossier (plan d'aide) : {content['folder_number']}"
    )
    page.ln(2)
    page.text_line(f"Motif : {content['reason']}")
    page.text_line(f"Montant de l'avoir : {euros(content['total_cents'])}", size=12, bold=True)
    page.ln(2)
    for mention in content["mentions"]:
        page.text_line(mention, size=8, height=4)
    return bytes(page.output())


def certificate_pdf(content: dict[str, Any]) -> bytes:
    """A tax certificate drawn from its content (:func:`node.telemanagement.certificates.certificate`)."""
    return _drawn(_certificate, content)


def _certificate(content: dict[str, Any], reduced: bool) -> bytes:
    page = _Page(f"Attestation fiscale {content['year']}", reduced=reduced)
    issuer = content["issuer"]
    page.text_line(f"Attestation fiscale {content['year']}", size=16, bold=True, height=9)
    page.text_line("Services à la personne (articles L7233-7 et D7233-4 du code du travail)", size=9)
    page.ln(2)
    _party(page, "Prestataire", issuer)
    for key in ("siren_line", "declaration_line", "agrement_line"):
        if issuer.get(key):
            page.text_line(issuer[key])
    page.ln(2)
    _party(page, "Bénéficiaire des prestations", content["beneficiary"])
    page.ln(2)
    page.text_line(
        f"Nous attestons que {content['beneficiary']['name']} a payé en {content['year']}, pour des services "
        f"à la personne rendus à son domicile, la somme de {euros(content['paid_cents'])}."
    )
    page.ln(1)
    widths = [40.0, 50.0, 40.0]
    page.row(list(zip(["Facture", "Période", "Montant payé"], widths, strict=True)), bold=True)
    for row in content["invoices"]:
        page.row(list(zip([row["number"], row["month"], euros(row["cents"])], widths, strict=True)))
    page.ln(2)
    page.text_line("Intervenants (numéro d'identification) et heures effectuées :", bold=True)
    for worker in content["workers"]:
        page.text_line(f"{worker['worker']} : {hours(worker['minutes'])}")
    page.ln(2)
    for mention in content["mentions"]:
        page.text_line(mention, size=8, height=4)
    return bytes(page.output())
