"""Tables of the tamper-evident clock log, the homes' PINs and the providers' absences.

The log (:mod:`node.telemanagement.clocklog`) holds no foreign key: it is never updated (the database
refuses it, by trigger), so a person or a visit deleted later must not reach into it. Times are aware
UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Text, UniqueConstraint

from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class ClockLogEntry(SQLModel, table=True):
    """One link of the clock log: what was clocked (or corrected), and the SHA-256 of the previous link
    and of this one over a canonical form (:func:`node.telemanagement.clocklog.canonical`)."""

    __tablename__ = "tm_clock_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(default="node", max_length=16)
    seq: int
    event_id: int | None = Field(default=None, unique=True)  # tm_clock_events.id, none for a correction
    visit_id: int = Field(index=True)
    kind: str = Field(max_length=12)  # in | out | correction
    at: datetime = Field(sa_type=UTCDateTime)  # the time clocked (the phone's, when sent late)
    received_at: datetime = Field(sa_type=UTCDateTime)
    method: str = Field(max_length=8)  # qr | pin | manual | remote
    manual_reason: str = Field(default="", max_length=24)
    provider_id: int | None = Field(default=None)
    offline: bool = Field(default=False)  # kept on the phone and sent when the network returned
    client_id: str | None = Field(default=None, max_length=64, unique=True)  # the phone's id of the event
    origin: str = Field(default="", max_length=2048)  # the remote actor that sent it; empty: this node
    note: str = Field(default="", max_length=500)
    position: str = Field(default="", max_length=8)  # "": not checked | inside | outside | unknown
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ClockChainHead(SQLModel, table=True):
    """The last link of a chain: locked to append (one writer at a time), and compared with the log by
    ``verify-log`` so that links cut off its end are found too."""

    __tablename__ = "tm_clock_chain_heads"

    chain: str = Field(primary_key=True, max_length=16)
    seq: int = Field(default=0)
    hash: str = Field(max_length=64)


class HomePin(SQLModel, table=True):
    """A home's PIN, that the beneficiary gives the provider at the door: only its HMAC under a key of
    the node secret is kept, so the database alone does not give it away."""

    __tablename__ = "tm_home_pins"

    beneficiary_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_beneficiaries.id", ondelete="CASCADE"), primary_key=True)
    )
    pin_hash: str = Field(max_length=64)
    failures: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Absence(SQLModel, table=True):
    """A provider's absence, declared for whole Paris days."""

    __tablename__ = "tm_absences"

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    first_day: date = Field(sa_column=Column(Date, nullable=False))
    last_day: date = Field(sa_column=Column(Date, nullable=False))
    reason: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Reassignment(SQLModel, table=True):
    """A visit left without its provider by an absence, until a coordinator gives it to someone else."""

    __tablename__ = "tm_reassignments"

    visit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_visits.id", ondelete="CASCADE"), primary_key=True)
    )
    absence_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tm_absences.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    absent_provider_id: int | None = Field(default=None)
    reassigned_to_id: int | None = Field(default=None)
    reassigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RemoteAssignment(SQLModel, table=True):
    """A visit given to a provider of another node (their actor), who clocks it there."""

    __tablename__ = "tm_remote_assignments"

    visit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_visits.id", ondelete="CASCADE"), primary_key=True)
    )
    actor_uri: str = Field(max_length=2048, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VisitNote(SQLModel, table=True):
    """The note a provider leaves on a visit: its text and an optional health observation, sealed
    together at rest (:mod:`node.telemanagement.notes`). Never federated."""

    __tablename__ = "tm_visit_notes"

    visit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_visits.id", ondelete="CASCADE"), primary_key=True)
    )
    author_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    )
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SealedAccess(SQLModel, table=True):
    """One opening of sealed private data: who (none: the node itself, for a document it issues), when,
    which fields of which record, and why. Kept without foreign keys, like a log."""

    __tablename__ = "tm_sealed_access"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    record: str = Field(max_length=16)  # beneficiary | visit_note
    record_id: int
    fields: str = Field(max_length=80)  # comma-separated: address, door_code, health
    purpose: str = Field(max_length=24)  # page | provider_day | invoice | certificate | export | esppadom


class FunderRepresentative(SQLModel, table=True):
    """An account a coordinator linked to a funder: it reads that funder's plans, visits done,
    statements and invoices (:mod:`node.telemanagement.funder_view`), and nothing else."""

    __tablename__ = "tm_funder_representatives"

    funder_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_funders.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    )
    linked_by_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgreementPlan(SQLModel, table=True):
    """The care plan made from an agreement (:mod:`node.telemanagement.from_agreement`): one at most, so
    that asking twice gives the same plan."""

    __tablename__ = "tm_agreement_plans"

    agreement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("agreements.id", ondelete="CASCADE"), primary_key=True)
    )
    plan_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tm_care_plans.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    created_by_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReplacementApplication(SQLModel, table=True):
    """A provider's application for a visit waiting for a replacement (:mod:`node.telemanagement.
    applications`); its ``state`` follows :data:`~node.telemanagement.lifecycles.APPLICATION_LIFECYCLE`."""

    __tablename__ = "tm_replacement_applications"

    visit_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tm_visits.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    )
    state: str = Field(default="applied", max_length=12)  # applied | chosen | declined
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RemoteVisit(SQLModel, table=True):
    """On the provider's node: a visit another node holds and gave to one of our people, as the holder
    announced it (times, category, the beneficiary's commune; never a name, address or door code).
    ``checked_in_at`` / ``checked_out_at`` are the times this node sent for it."""

    __tablename__ = "tm_remote_visits"
    __table_args__ = (Index("ix_tm_remote_visits_provider_starts", "provider_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)  # the holder's address of the visit
    holder_uri: str = Field(max_length=2048)  # the holder node's actor, the only one that may change it
    provider_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    category: str = Field(max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    commune: str = Field(default="", max_length=80)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
