"""Structural checks of a Factur-X PDF against what PDF/A-3 and Factur-X ask of its structure, read with
pypdf: the XMP metadata says PDF/A part 3 with a conformance level, an output intent carries an ICC
profile, every font is embedded, nothing is encrypted, no JavaScript or launch action, the XML is
attached as ``factur-x.xml`` with its ``/AFRelationship`` and listed in the catalog's ``/AF``, and the
XMP carries the Factur-X extension schema with the XML's profile as ``fx:ConformanceLevel``.

This is not a PDF/A validation (veraPDF checks hundreds of rules on content streams, colour spaces,
font programs and metadata syntax): a document that passes here may still fail one, a document that
fails here is certainly not PDF/A-3 or not Factur-X.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from lxml import etree
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from node.telemanagement import facturx

PDFAID = "http://www.aiim.org/pdfa/ns/id/"
FX = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
XML_NAME = "factur-x.xml"
# The Factur-X profile of a guideline identifier (BT-24), as fx:ConformanceLevel writes it.
LEVELS = {
    "urn:factur-x.eu:1p0:minimum": "MINIMUM",
    "urn:factur-x.eu:1p0:basicwl": "BASIC WL",
    "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic": "BASIC",
    "urn:cen.eu:en16931:2017": "EN 16931",
    "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended": "EXTENDED",
}
_FORBIDDEN_ACTIONS = {"/JavaScript", "/Launch"}


@dataclass(frozen=True)
class Problem:
    """``code``: encrypted, no-id, no-xmp, not-pdfa-3, no-output-intent, font-not-embedded, action,
    attachment or fx-xmp; ``detail`` says what."""

    code: str
    detail: str


def _xmp(root: DictionaryObject) -> Any:
    stream = root.get("/Metadata")
    if stream is None:
        return None
    return etree.fromstring(stream.get_object().get_data())


def _xmp_value(xmp: Any, namespace: str, name: str) -> str | None:
    """A simple XMP property, written as an element or as an attribute of an ``rdf:Description``."""
    for node in xmp.iter(f"{{{namespace}}}{name}"):
        return str(node.text or "").strip()
    for node in xmp.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        value = node.get(f"{{{namespace}}}{name}")
        if value is not None:
            return str(value).strip()
    return None


def _fonts(resources: Any, seen: set[int]) -> list[tuple[str, Any]]:
    """The fonts of a resource dictionary and of the form XObjects it uses, recursively."""
    found: list[tuple[str, Any]] = []
    if resources is None or id(resources) in seen:
        return found
    seen.add(id(resources))
    resources = resources.get_object()
    for name, font in (resources.get("/Font") or {}).items():
        font = font.get_object()
        found.append((str(font.get("/BaseFont", name)), font))
        for descendant in font.get("/DescendantFonts") or []:
            descendant = descendant.get_object()
            found.append((str(descendant.get("/BaseFont", name)), descendant))
    for xobject in (resources.get("/XObject") or {}).values():
        xobject = xobject.get_object()
        if xobject.get("/Subtype") == "/Form":
            found.extend(_fonts(xobject.get("/Resources"), seen))
    return found


def _font_problems(reader: PdfReader) -> list[Problem]:
    problems: list[Problem] = []
    named: set[str] = set()
    seen: set[int] = set()
    for page in reader.pages:
        for name, font in _fonts(page.get("/Resources"), seen):
            if font.get("/Subtype") in ("/Type0", "/Type3") or name in named:
                continue  # a Type0's program is in its descendant; a Type3 is drawn by the document
            descriptor = font.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                named.add(name)
                problems.append(Problem("font-not-embedded", f"The font {name} is not embedded."))
    return problems


def _action_problems(reader: PdfReader, root: DictionaryObject) -> list[Problem]:
    problems: list[Problem] = []
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        problems.append(Problem("action", "The document has JavaScript in its name tree."))
    if "/AA" in root:
        problems.append(Problem("action", "The catalog has additional actions (/AA)."))
    open_action = root.get("/OpenAction")
    candidates = [open_action.get_object()] if open_action is not None else []
    for page in reader.pages:
        if "/AA" in page:
            problems.append(Problem("action", "A page has additional actions (/AA)."))
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None:
                candidates.append(action.get_object())
    for action in candidates:
        if isinstance(action, DictionaryObject) and action.get("/S") in _FORBIDDEN_ACTIONS:
            problems.append(Problem("action", f"A {action['/S']} action is forbidden in PDF/A."))
    return problems


def _attachment(root: DictionaryObject) -> tuple[Any, list[Problem]]:
    """The file specification of ``factur-x.xml`` and what is wrong with it."""
    names = (root.get("/Names") or {}).get("/EmbeddedFiles")
    listed = list((names.get_object().get("/Names") or []) if names is not None else [])
    found = {str(listed[i]): listed[i + 1].get_object() for i in range(0, len(listed) - 1, 2)}
    spec = found.get(XML_NAME)
    if spec is None:
        return None, [Problem("attachment", f"No {XML_NAME} among the embedded files.")]
    problems: list[Problem] = []
    if spec.get("/AFRelationship") not in ("/Data", "/Alternative", "/Source"):
        problems.append(
            Problem("attachment", f"{XML_NAME} has no /AFRelationship Data, Alternative or Source.")
        )
    associated = [entry.get_object() for entry in root.get("/AF") or []]
    if not any(entry is spec or entry == spec for entry in associated):
        problems.append(Problem("attachment", f"{XML_NAME} is not listed in the catalog's /AF."))
    stream = (spec.get("/EF") or {}).get("/F")
    if stream is None:
        return spec, [*problems, Problem("attachment", f"{XML_NAME} has no embedded stream.")]
    if stream.get_object().get("/Subtype") != "/text/xml":
        problems.append(Problem("attachment", f"{XML_NAME} does not give its MIME type text/xml."))
    return spec, problems


def _facturx_xmp(xmp: Any, xml: bytes | None) -> list[Problem]:
    problems: list[Problem] = []
    namespaces = [str(node.text or "").strip() for node in xmp.iter(f"{{{PDFA_SCHEMA}}}namespaceURI")]
    if FX not in namespaces:
        problems.append(Problem("fx-xmp", "The XMP lacks the Factur-X PDF/A extension schema."))
    if _xmp_value(xmp, FX, "DocumentFileName") != XML_NAME:
        problems.append(Problem("fx-xmp", f"fx:DocumentFileName is not {XML_NAME}."))
    if _xmp_value(xmp, FX, "DocumentType") != "INVOICE":
        problems.append(Problem("fx-xmp", "fx:DocumentType is not INVOICE."))
    if xml is not None:
        guideline = etree.fromstring(xml).findtext(
            "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
            namespaces=facturx.NAMESPACES,
        )
        level = LEVELS.get((guideline or "").strip())
        declared = _xmp_value(xmp, FX, "ConformanceLevel")
        if level is None or declared != level:
            problems.append(
                Problem(
                    "fx-xmp", f"fx:ConformanceLevel {declared} does not match the XML's profile {guideline}."
                )
            )
    return problems


def problems(pdf: bytes) -> list[Problem]:
    """What the structural PDF/A-3 and Factur-X checks find wrong with ``pdf`` (nothing: it passes them)."""
    reader = PdfReader(io.BytesIO(pdf))
    if reader.is_encrypted:
        return [Problem("encrypted", "The document is encrypted.")]
    root = reader.trailer["/Root"].get_object()
    assert isinstance(root, DictionaryObject)
    found: list[Problem] = []
    if "/ID" not in reader.trailer:
        found.append(Problem("no-id", "The trailer has no /ID."))
    xmp = _xmp(root)
    if xmp is None:
        found.append(Problem("no-xmp", "The catalog has no XMP metadata."))
    else:
        part, conformance = _xmp_value(xmp, PDFAID, "part"), _xmp_value(xmp, PDFAID, "conformance")
        if part != "3" or conformance not in ("A", "B", "U"):
            found.append(Problem("not-pdfa-3", f"The XMP says PDF/A part {part}, conformance {conformance}."))
    intents = [entry.get_object() for entry in root.get("/OutputIntents") or []]
    profiles = [
        entry["/DestOutputProfile"].get_object()
        for entry in intents
        if entry.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in entry
    ]
    if not any(profile.get_data()[36:40] == b"acsp" for profile in profiles):
        found.append(Problem("no-output-intent", "No PDF/A output intent with an embedded ICC profile."))
    found.extend(_font_problems(reader))
    found.extend(_action_problems(reader, root))
    spec, attachment = _attachment(root)
    found.extend(attachment)
    xml = spec["/EF"]["/F"].get_object().get_data() if spec is not None and "/EF" in spec else None
    if xmp is not None:
        found.extend(_facturx_xmp(xmp, xml))
    return found
