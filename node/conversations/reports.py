"""Reports and the moderation queue, with Mastodon-compatible ``Flag``s both ways.

- One of our people reports people, proposals or messages (a reason, a comment). The report waits in the
  coordinators' queue, who are notified. When the reporter asks for it (``forward``), or later when a
  coordinator does, the node actor sends a ``Flag`` to each other server whose content is reported, as
  Mastodon does: ``object`` lists the reported account and its reported objects, ``content`` the
  comment, addressed to the reported account (delivered to its server's shared inbox). The reporter is
  never named.
- A ``Flag`` received from any server (Mastodon, GoToSocial and Mbin list an account with its posts)
  lands in the queue when at least one of its objects is on this node; the others are dropped.
- Coordinators decide: dismiss; hide a proposal, a message or an evaluation; warn an account: one of
  ours by a notification, and an e-mail when the node sends e-mail, with the moderator's note; one of
  another server by a direct message of the node actor (a ``Note`` addressed and mentioning only them,
  as our messages are; the moderator is not named, as with ``Flag``s), the account it went to logged
  with the decision (``sent_to``); limit an account
  (:func:`node.activitypub.moderation.limit_account`: its proposals leave listings and search, its messages
  reach only its followers here), ours or another server's; suspend a local account; block another
  server's account (:func:`node.activitypub.moderation.block_account`: what it sends is ignored, the
  follows with it dropped, its proposals listed here withdrawn) or its whole domain; forward.
  Every decision is logged (:class:`~node.conversations.models.Decision`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, col, select

from node.accounts import service as accounts
from node.accounts.models import AccountStatus, Role, User
from node.activitypub import addressing, moderation
from node.activitypub.actors import local
from node.activitypub.actors import remote as remote_actors
from node.activitypub.outbox.publish import publish
from node.conversations import messages
from node.conversations.models import Decision, Message, Report, ReportState
from node.core import limits, mail
from node.core.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.text import plain_text, text_to_html
from node.core.timeutil import isoformat, utcnow
from node.market.evaluations import service as evaluations
from node.market.notifications import Kind, notify
from node.market.proposals import records as proposals
from node.market.proposals import service as proposal_service
from node.settings import Settings

log = logging.getLogger("asasap.moderation")

REASONS = ("spam", "abuse", "illegal", "other")
TARGETS_MAX = 20
COMMENT_MAX = 1000
Action = Literal["dismiss", "hide", "warn", "limit", "suspend", "block", "block-domain", "forward"]
ACTIONS: tuple[Action, ...] = (
    "dismiss",
    "hide",
    "warn",
    "limit",
    "suspend",
    "block",
    "block-domain",
    "forward",
)

MSG_NO_TARGET = N_("Say what you report.")
MSG_REASON = N_("Choose a reason.")
MSG_COMMENT_TOO_LONG = N_("A comment has at most 1,000 characters.")
MSG_NOT_MODERATOR = N_("Only coordinators moderate reports.")
MSG_NO_SUCH_REPORT = N_("No such report.")
MSG_ACTION = N_("This action does not apply to what was reported.")


@dataclass(frozen=True)
class Target:
    """A reported URI, and the account that answers for it (itself when it is an account; None for an
    object this node does not hold)."""

    uri: str
    account: str | None
    kind: Literal["person", "proposal", "message", "evaluation", "object"]


def targets_of(report: Report) -> list[str]:
    found: list[str] = json.loads(report.targets)
    return found


def _resolve(settings: Settings, uri: str, *, session: Session) -> Target:
    proposal = proposals.get_by_ap_id(uri, session=session)
    if proposal is not None:
        return Target(uri, proposal.author_uri, "proposal")
    message = messages.message_by_uri(uri, session=session)
    if message is not None:
        return Target(uri, message.author_uri, "message")
    evaluation = evaluations.by_ap_id(uri, session=session)
    if evaluation is not None:
        return Target(uri, evaluation.evaluator_uri, "evaluation")
    if local.local_username(settings, uri) is not None or remote_actors.is_known(uri, session=session):
        return Target(uri, uri, "person")
    return Target(uri, None, "object")


def _coordinators(*, session: Session) -> Sequence[User]:
    return session.exec(
        select(User).where(
            col(User.role).in_([Role.COORDINATOR.value, Role.ADMIN.value]),
            col(User.status) == AccountStatus.ACTIVE.value,
        )
    ).all()


def _notify_moderators(report: Report, *, session: Session) -> None:
    for user in _coordinators(session=session):
        notify(
            user.pk, Kind.REPORT, data={"href": f"/moderation/reports#report-{report.id}"}, session=session
        )


def file_report(
    settings: Settings,
    reporter: User,
    targets: Sequence[str],
    reason: str,
    comment: str = "",
    *,
    forward: bool = False,
    session: Session,
) -> Report:
    """``reporter`` reports ``targets`` (URIs of people, proposals or messages)."""
    wanted = [t.strip() for t in dict.fromkeys(targets) if t and t.strip()]
    if not wanted or not all(addressing.is_uri(t) for t in wanted) or len(wanted) > TARGETS_MAX:
        raise ValidationFailed(MSG_NO_TARGET, fields={"targets": MSG_NO_TARGET})
    if reason not in REASONS:
        raise ValidationFailed(MSG_REASON, fields={"reason": MSG_REASON})
    cleaned = plain_text(comment or "", COMMENT_MAX + 1, multiline=True)
    if len(cleaned) > COMMENT_MAX:
        raise ValidationFailed(MSG_COMMENT_TOO_LONG, fields={"comment": MSG_COMMENT_TOO_LONG})
    limits.hit(settings, "reports per person per day", reporter.pk, session=session)
    report = Report(
        reporter_uri=local.person(settings, reporter).uri,
        reporter_user_id=reporter.pk,
        targets=json.dumps(wanted),
        reason=reason,
        comment=cleaned,
        forward=forward,
    )
    session.add(report)
    session.flush()
    if forward:
        _forward(settings, report, session=session)
    _notify_moderators(report, session=session)
    return report


def _forward(settings: Settings, report: Report, *, session: Session) -> int:
    """Send the report as a ``Flag`` of the node actor to each other server it concerns; how many."""
    by_domain: dict[str, list[Target]] = {}
    for uri in targets_of(report):
        if not local.is_local(settings, uri):
            target = _resolve(settings, uri, session=session)
            by_domain.setdefault(addressing.domain_of(target.account or uri), []).append(target)
    sent = 0
    for domain, found in by_domain.items():
        accounts_named = list(dict.fromkeys(t.account for t in found if t.account is not None))
        if not accounts_named:
            log.info("report %s: no account known on %s to send it to", report.id, domain)
            continue
        objects = list(dict.fromkeys([*accounts_named, *(t.uri for t in found)]))
        publish(
            settings,
            actor=local.node_actor(settings),
            activity={"type": "Flag", "object": objects, "content": report.comment, "to": accounts_named},
            recipients=accounts_named,
            session=session,
        )
        sent += 1
    return sent


def receive_flag(
    settings: Settings,
    activity_id: str,
    signer: str,
    objects: Sequence[str],
    content: str,
    *,
    session: Session,
) -> Report | None:
    """A ``Flag`` from another server: queued when it names something of ours (the rest is dropped);
    None when it names nothing here or was already received."""
    if session.exec(select(Report.id).where(col(Report.activity_id) == activity_id)).first() is not None:
        return None
    ours = [uri for uri in dict.fromkeys(objects) if local.is_local(settings, uri)][:TARGETS_MAX]
    if not ours:
        return None
    report = Report(
        activity_id=activity_id,
        reporter_uri=signer,
        origin=addressing.domain_of(signer),
        targets=json.dumps(ours),
        comment=plain_text(content, COMMENT_MAX, multiline=True),
    )
    session.add(report)
    session.flush()
    _notify_moderators(report, session=session)
    return report


# --- the queue --------------------------------------------------------------------------------------------


def _check_moderator(user: User) -> None:
    if not user.is_coordinator:
        raise PermissionDenied(MSG_NOT_MODERATOR)


def queue(moderator: User, *, session: Session, state: str = ReportState.OPEN.value) -> Sequence[Report]:
    """Reports in ``state``, the oldest first (open ones wait longest)."""
    _check_moderator(moderator)
    return session.exec(
        select(Report).where(col(Report.state) == state).order_by(col(Report.created_at), col(Report.id))
    ).all()


def get(moderator: User, report_id: int, *, session: Session) -> Report:
    _check_moderator(moderator)
    report = session.get(Report, report_id)
    if report is None:
        raise NotFound(MSG_NO_SUCH_REPORT)
    return report


def decisions(report_id: int, *, session: Session) -> Sequence[Decision]:
    return session.exec(
        select(Decision).where(col(Decision.report_id) == report_id).order_by(col(Decision.id))
    ).all()


def recent_decisions(moderator: User, *, session: Session, limit: int = 20) -> Sequence[Decision]:
    """The latest decisions, the newest first (the log the queue page shows)."""
    _check_moderator(moderator)
    return session.exec(select(Decision).order_by(col(Decision.id).desc()).limit(limit)).all()


def decide(
    settings: Settings,
    moderator: User,
    report_id: int,
    action: str,
    target: str,
    note: str = "",
    *,
    session: Session,
) -> Decision:
    """``moderator`` acts on ``target`` (one of the report's) and the decision is logged. ``dismiss``
    and ``forward`` concern the whole report; the others one target."""
    report = get(moderator, report_id, session=session)
    if action not in ACTIONS:
        raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
    if action not in ("dismiss", "forward") and target not in targets_of(report):
        raise ValidationFailed(MSG_ACTION, fields={"target": MSG_ACTION})
    resolved = _resolve(settings, target, session=session) if target else None
    sent_to = None
    if action == "hide":
        _hide(settings, resolved, session=session)
    elif action == "warn":
        sent_to = _warn(settings, resolved, note, session=session)
    elif action == "limit":
        if resolved is None or resolved.account is None:
            raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
        try:
            moderation.limit_account(resolved.account, session=session, reason=f"report {report.id}")
        except Conflict:
            pass  # already limited: the decision is still logged
    elif action == "suspend":
        username = local.local_username(settings, resolved.account) if resolved and resolved.account else None
        if username is None:
            raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
        accounts.suspend(accounts.get_user(username, session=session), session=session, by=moderator)
    elif action == "block":
        _block(settings, resolved, f"report {report.id}", session=session)
    elif action == "block-domain":
        if resolved is None or resolved.account is None or local.is_local(settings, resolved.account):
            raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
        try:
            moderation.block_domain(resolved.account, session=session, reason=f"report {report.id}")
        except Conflict:
            pass  # already blocked: the decision is still logged
    elif action == "forward":
        if report.origin or _forward(settings, report, session=session) == 0:
            raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
    report.state = ReportState.DISMISSED.value if action == "dismiss" else ReportState.ACTIONED.value
    report.decided_at = utcnow()
    session.add(report)
    decision = Decision(
        report_id=report.id,
        moderator_id=moderator.pk,
        action=action,
        target_uri=target or report.reporter_uri,
        note=plain_text(note or "", COMMENT_MAX, multiline=True),
        sent_to=sent_to,
    )
    session.add(decision)
    session.flush()
    return decision


def _block(settings: Settings, target: Target | None, reason: str, *, session: Session) -> None:
    """Block the account of another server that answers for ``target``, and withdraw here the open
    proposals of it that this node lists."""
    if target is None or target.account is None or local.is_local(settings, target.account):
        raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
    try:
        moderation.block_account(target.account, session=session, reason=reason)
    except Conflict:
        pass  # already blocked: the decision is still logged
    for row in proposals.open_remote_of(target.account, session=session):
        proposal_service.hide(settings, row, session=session)


def _warn(settings: Settings, target: Target | None, note: str, *, session: Session) -> str | None:
    """Tell the account that answers for ``target`` that a moderator warns them (the note says why):
    one of ours by a notification, and an e-mail when the node sends e-mail and they gave an address;
    one of another server by a direct message (:func:`_warn_remote`), whose address is returned."""
    if target is None or target.account is None:
        raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
    why = plain_text(note or "", COMMENT_MAX, multiline=True)
    username = local.local_username(settings, target.account)
    if username is None:
        if local.is_local(settings, target.account):  # the node actor, a group: nobody to warn
            raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
        _warn_remote(settings, target, why, session=session)
        return target.account
    person = accounts.get_user(username, session=session)
    notify(person.pk, Kind.MODERATION_WARNING, object_uri=target.uri, data={"note": why}, session=session)
    if person.email and person.is_active:
        paragraphs: list[mail.Paragraph] = [
            (N_("Hello {name},"), {"name": person.name}),
            (
                N_("The moderators of {node} warn you about what you published or wrote:"),
                {"node": settings.node_name},
            ),
            target.uri,
        ]
        if why:
            paragraphs.append(why)
        paragraphs.append(N_("Please follow the node's rules; a coordinator can tell you more."))
        message = mail.letter(
            settings,
            to=person.email,
            subject=N_("A warning from the node's moderators"),
            paragraphs=paragraphs,
        )
        mail.enqueue(settings, message, session=session)
    return None


WARNING_TEXT = (
    "Avertissement des modérateurs de {node} au sujet de {uri} :\n\n{note}"
    "Merci de respecter les règles de {node}. Les réponses à ce message ne sont pas lues ; pour en "
    "parler, adressez-vous à l'équipe de coordination de {node} ({home}).\n\n"
    "Warning from the moderators of {node} about {uri}:\n\n{note}"
    "Please follow the rules of {node}. Replies to this message are not read; to discuss it, contact "
    "the coordination team of {node} ({home})."
)


def _warn_remote(settings: Settings, target: Target, why: str, *, session: Session) -> None:
    """Send the warning to an account of another server as a direct message of the node actor: a
    ``Create(Note)`` addressed to that account only, which is mentioned (how Mastodon shows a direct
    message), in French then English since their language is unknown here."""
    assert target.account is not None
    text = WARNING_TEXT.format(
        node=settings.node_name, uri=target.uri, note=f"{why}\n\n" if why else "", home=settings.url("/")
    )
    actor = local.node_actor(settings)
    note = {
        "id": settings.url(f"/moderation/warnings/{uuid.uuid4()}"),
        "type": "Note",
        "attributedTo": actor.uri,
        "content": text_to_html(text),
        "to": [target.account],
        "cc": [],
        "published": isoformat(utcnow()),
        "tag": [
            {
                "type": "Mention",
                "href": target.account,
                "name": messages.mention_name(target.account, session=session),
            }
        ],
    }
    if target.kind != "person":
        note["about"] = target.uri  # the conversation it opens there is about what was reported
    publish(
        settings,
        actor=actor,
        activity={"@context": messages.NOTE_CONTEXT, "type": "Create", "object": note, "to": note["to"]},
        recipients=[target.account],
        session=session,
    )


def _hide(settings: Settings, target: Target | None, *, session: Session) -> None:
    if target is None or target.kind in ("person", "object"):
        raise ValidationFailed(MSG_ACTION, fields={"action": MSG_ACTION})
    if target.kind == "evaluation":
        evaluation = evaluations.by_ap_id(target.uri, session=session)
        assert evaluation is not None
        evaluations.hide(evaluation, session=session)
        return
    if target.kind == "proposal":
        row = proposals.get_by_ap_id(target.uri, session=session)
        assert row is not None
        try:
            proposal_service.hide(settings, row, session=session)
        except Conflict:
            pass  # already closed or withdrawn: nothing left to hide
        return
    message = messages.message_by_uri(target.uri, session=session)
    assert isinstance(message, Message) and message.id is not None
    messages.hide(message.id, session=session)
