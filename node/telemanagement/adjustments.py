"""The adjustment codes a coordinator gives when resolving a visit's anomalies.

Source: the EDESS code list ``ESPPADOM_EFFECTIVITY_AJUST`` (listAgencyName ``EDESS``), the reasons for
correcting a clocked visit in an ESPPADOM DELIVERY message, as given on the EDESS forum ("DELIVERY: les
motifs de correction") and used by the MIT-licensed DELIVERY implementation of Compani (COA, COD, CO2).
``HOR`` of the same list (a DELIVERY carrying raw clocking only) is not a resolution and is left out.
The full, current list is not published openly: these six are the ones confirmed; none is invented.

``needs`` says which clock times must be missing for the code to apply (``arrival``, ``departure``,
``both``, or ``any`` when it applies whatever was clocked); ``retained`` says whether the coordinator
gives a retained period (``given``), the clocked one is kept (``clocked``) or nothing is billed
(``none``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LIST_ID = "ESPPADOM_EFFECTIVITY_AJUST"
LIST_AGENCY = "EDESS"


@dataclass(frozen=True)
class Code:
    code: str
    label: str  # English; the French label is the page's translation
    needs: Literal["arrival", "departure", "both", "any"]
    retained: Literal["given", "clocked", "none"]


CODES: tuple[Code, ...] = (
    Code("CRE", "Visit created without clock times", "both", "given"),
    Code("MDT", "Visit modified, clock times unchanged", "any", "clocked"),
    Code("SUP", "Visit deleted (not done, not billed)", "any", "none"),
    Code("COA", "Corrected: arrival time missing", "arrival", "given"),
    Code("COD", "Corrected: departure time missing", "departure", "given"),
    Code("CO2", "Corrected: both clock times missing", "both", "given"),
)
BY_CODE = {code.code: code for code in CODES}


def applicable(checked_in: bool, checked_out: bool) -> list[Code]:
    """The codes that fit a visit clocked as said: a correction code only for the time that is missing,
    ``MDT`` only when both times are there (it keeps them), ``SUP`` always."""
    missing = (
        "both"
        if not checked_in and not checked_out
        else "arrival"
        if not checked_in
        else "departure"
        if not checked_out
        else None
    )
    return [
        code
        for code in CODES
        if code.needs == missing or code.code == "SUP" or (code.code == "MDT" and missing is None)
    ]
