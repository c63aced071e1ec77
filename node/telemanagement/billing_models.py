"""Tables of the billing half of telemanagement: how a coordinator resolved a visit's anomalies, which
months are validated per funder, the invoices issued from them and the counters that number them.

An invoice is written once and never changed: its lines and legal mentions are frozen in its content
(JSON) and its PDF (Factur-X), both sealed at rest since they carry the beneficiary's address, with the
PDF's SHA-256 in clear. Amounts are integer cents.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Integer, Text, UniqueConstraint

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Column[int]:
    ondelete = "SET NULL" if nullable else "RESTRICT"
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)


class Resolution(SQLModel, table=True):
    """A coordinator's decision on a visit's anomalies: an adjustment code (ESPPADOM
    ``ESPPADOM_EFFECTIVITY_AJUST``, :mod:`node.telemanagement.adjustments`) and the retained period,
    which is what is billed (none for ``SUP``). One per visit; the raw clock times stay as they were."""

    __tablename__ = "tm_resolutions"
    __table_args__ = (UniqueConstraint("visit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    visit_id: int = Field(sa_column=_fk("tm_visits.id"))
    code: str = Field(max_length=3)
    kinds: str = Field(max_length=200)  # the anomalies it resolved, comma separated
    retained_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retained_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=500)
    resolved_by_id: int | None = Field(default=None, sa_column=_fk("users.id", nullable=True, index=False))
    resolved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MonthValidation(SQLModel, table=True):
    """A funder's month validated by a coordinator: its visits are locked from then on."""

    __tablename__ = "tm_month_validations"
    __table_args__ = (UniqueConstraint("funder_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    funder_id: int = Field(sa_column=_fk("tm_funders.id"))
    month: str = Field(max_length=7)
    validated_by_id: int | None = Field(default=None, sa_column=_fk("users.id", nullable=True, index=False))
    validated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InvoiceCounter(SQLModel, table=True):
    """The last number given by an issuer in a year; incremented in the transaction that writes the
    invoice, so a rolled-back invoice gives its number back and none is skipped."""

    __tablename__ = "tm_invoice_counters"

    issuer: str = Field(max_length=60, primary_key=True)
    year: int = Field(primary_key=True)
    last: int = Field(default=0)


class Numbered(SQLModel):
    """The gapless number an invoice or a credit note takes from :class:`InvoiceCounter`: its issuer,
    year and place in the sequence (unique together, a constraint each table declares), and the
    number as printed. Declared first, so each table's columns keep their order."""

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=60)
    year: int
    sequence: int
    number: str = Field(max_length=40, unique=True)


class Invoice(Numbered, table=True):
    """One invoice of one plan's month, to the funder (its share) or to the beneficiary."""

    __tablename__ = "tm_invoices"
    __table_args__ = (
        UniqueConstraint("issuer", "year", "sequence"),
        UniqueConstraint("plan_id", "month", "recipient"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
    )

    plan_id: int = Field(sa_column=_fk("tm_care_plans.id"))
    funder_id: int = Field(sa_column=_fk("tm_funders.id"))
    beneficiary_id: int = Field(sa_column=_fk("tm_beneficiaries.id"))
    month: str = Field(max_length=7)
    recipient: str = Field(max_length=12)  # funder | beneficiary
    issued_on: date = Field(sa_column=Column(Date, nullable=False))
    total_cents: int
    content_sealed: str = Field(sa_column=Column(Text, nullable=False))
    pdf_sealed: str = Field(sa_column=Column(Text, nullable=False))
    pdf_sha256: str = Field(max_length=64)
    issued_by_id: int | None = Field(default=None, sa_column=_fk("users.id", nullable=True, index=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CreditNote(Numbered, table=True):
    """A credit note (avoir) correcting an issued invoice, for all or part of it: numbered in the
    invoices' sequence, written once like them, never edited."""

    __tablename__ = "tm_credit_notes"
    __table_args__ = (
        UniqueConstraint("issuer", "year", "sequence"),
        CheckConstraint("total_cents > 0", name="total_positive"),
    )

    invoice_id: int = Field(sa_column=_fk("tm_invoices.id"))
    reason: str = Field(max_length=500)
    issued_on: date = Field(sa_column=Column(Date, nullable=False))
    total_cents: int
    content_sealed: str = Field(sa_column=Column(Text, nullable=False))
    pdf_sealed: str = Field(sa_column=Column(Text, nullable=False))
    pdf_sha256: str = Field(max_length=64)
    issued_by_id: int | None = Field(default=None, sa_column=_fk("users.id", nullable=True, index=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
