"""What the marketplace does with incoming activities: its kinds, how it recognises them (once, from
their shape: :func:`classify`), and which handler processes each, contributed to the node's dispatcher
by :func:`inbox_handlers`.

The marketplace documents are told apart by :func:`node.market.vocab.classify_activity` (``proposal``,
``offer``, ``accept``, ``reject``, ``withdraw``, ``receipt``, ``confirm``, ``cancel``, ``dispute``,
``evaluation``); the rest of what the marketplace reads is told apart here: ``reference`` (a ``Create``
or ``Update`` naming its object by id, fetched from its origin), ``reply`` (``Create(Note)``; one
that links one of our proposals is counted as a mention of it),
``contact`` (a ``ContactPoint`` shared by a party), ``agreement-update`` (the holder's ``Update`` of an
agreement), ``proposal-deleted``, ``announce``, and the references that only an id gives (an
``Accept``, ``Undo`` or ``Flag`` whose object the inbox kept as an id; a ``Reject`` of an id, which
declines one of our bids or else cancels an agreement). The social graph classifies
before the marketplace, so follows and an actor's own ``Update`` or ``Delete`` never come here; the
marketplace acts on an actor's deletion through the social graph's ``actor-deleted`` kind.
"""

from __future__ import annotations

from node.activitypub.actors import local
from node.activitypub.addressing import types_of
from node.activitypub.inbox.context import ProcessingContext
from node.activitypub.inbox.dispatch import Contribution, contribution
from node.activitypub.social.inbound import ACTOR_DELETED
from node.activitypub.vocab import Activity
from node.market import vocab
from node.market.agreements import documents as agreement_documents
from node.market.agreements import federation as agreements
from node.market.bids import federation as bids
from node.market.evaluations import federation as evaluations
from node.market.proposals import federation as proposals
from node.market.proposals import reactions

REFERENCE = "reference"
REPLY = "reply"
CONTACT = "contact"
AGREEMENT_UPDATE = "agreement-update"
PROPOSAL_DELETED = "proposal-deleted"
ANNOUNCE = "announce"
LIKED, BOOSTED, UNREACTED = "liked", "boosted", "unreacted"  # of our proposals (proposals.reactions)
DOCUMENT_KINDS = frozenset(
    {
        "proposal",
        "offer",
        "accept",
        "reject",
        "withdraw",
        "receipt",
        "confirm",
        "cancel",
        "dispute",
        "evaluation",
    }
)
KINDS = DOCUMENT_KINDS | {REFERENCE, REPLY, CONTACT, AGREEMENT_UPDATE, PROPOSAL_DELETED, ANNOUNCE}
KINDS |= {LIKED, BOOSTED, UNREACTED}
TYPES = frozenset(
    {"Create", "Update", "Delete", "Announce", "Offer", "Accept", "Reject", "Undo", "Flag", "Like"}
)


def classify(ctx: ProcessingContext, activity: Activity) -> str | None:
    """The marketplace's kind of ``activity`` (see the module docs), or None when it is none of its."""
    if activity.type == "Like":
        return LIKED
    if (
        activity.type == "Announce"
        and activity.object_id
        and local.is_local(ctx.settings, activity.object_id)
    ):
        return BOOSTED  # one of our proposals shared by someone elsewhere: counted, not stored again
    if activity.type == "Undo" and activity.object is not None:
        if set(types_of(activity.object)) & {"Like", "Announce"}:
            return UNREACTED
    kind = vocab.classify_activity(activity.raw)
    if kind == "reject" and activity.object is None:
        # Only an id (the inbox keeps another origin's embedded object as its id): the decline of one of
        # our bids, else the cancellation of an agreement.
        return "reject" if bids.our_bid(ctx, activity.object_id) is not None else "cancel"
    if kind is not None:
        return kind
    obj = activity.object
    if activity.type in ("Create", "Update"):
        if obj is None:
            return REFERENCE if activity.object_id is not None else None
        if agreement_documents.is_contact_notice(obj):
            return CONTACT
        if activity.type == "Update":
            return AGREEMENT_UPDATE if "Agreement" in types_of(obj) else None
        return REPLY if "Note" in types_of(obj) else None
    if activity.type == "Delete":
        return PROPOSAL_DELETED
    if activity.type == "Announce":
        return ANNOUNCE
    if obj is None and activity.object_id is not None:
        # Only an id: one of our bids accepted or withdrawn, or an agreement disputed.
        return {"Accept": "accept", "Undo": "withdraw", "Flag": "dispute"}.get(activity.type)
    return None


def inbox_handlers() -> Contribution:
    """The marketplace's part of the node's dispatcher."""
    return contribution(
        "marketplace",
        types=TYPES,
        kinds=KINDS,
        classify=classify,
        handlers={
            "proposal": (proposals.on_proposal,),
            REFERENCE: (proposals.on_reference,),
            REPLY: (proposals.on_reply, reactions.on_mention),
            PROPOSAL_DELETED: (proposals.on_delete,),
            ANNOUNCE: (proposals.on_announce,),
            LIKED: (lambda ctx, activity: reactions.on_reaction(ctx, activity, reactions.LIKE),),
            BOOSTED: (lambda ctx, activity: reactions.on_reaction(ctx, activity, reactions.BOOST),),
            UNREACTED: (reactions.on_undo,),
            ACTOR_DELETED: (proposals.on_author_deleted,),
            "offer": (bids.on_offer,),
            "withdraw": (bids.on_withdraw,),
            "accept": (bids.on_accept,),
            "reject": (bids.on_reject,),
            "cancel": (agreements.on_cancel,),
            "dispute": (agreements.on_dispute,),
            "confirm": (agreements.on_confirmation,),
            "receipt": (agreements.on_receipt,),
            CONTACT: (agreements.on_contact,),
            AGREEMENT_UPDATE: (agreements.on_agreement_update,),
            "evaluation": (evaluations.on_review,),
        },
    )
