"""Every row of FEDERATION.md's Activities table, accepted and processed by real nodes.

Two ``asasap serve`` processes (each a fresh interpreter that builds its application with
``create_app`` and runs its worker embedded) and a foreign server on loopback (an actor server in this
process, whose actors sign as Mastodon does) do what their people do, through the API: follows and
their answers, a profile change, proposals published, updated and withdrawn, bids placed, withdrawn,
refused and accepted, contact details, confirmations, a receipt, an evaluation, a cancellation, a
dispute; the foreign server replies, announces, sends proposals by reference and deletes its actor.
Then each node's inbox table, read directly, must show a processed row (``done``) of every
``(activity, kind)`` the table lists, and nothing failed.

The kinds the nodes' dispatcher composes must be exactly the table's (checked without processes first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.core.timeutil import isoformat, utcnow
from node.worker import inbox_dispatcher
from tests.support.actors import ActorServer, RemoteTestActor, actor_on
from tests.support.databases import DatabaseFactory
from tests.support.market import proposal_document, proposal_fields
from tests.support.nodes import Node, NodeProcess, wait_until
from tests.support.telemanagement import api_plan, started_ago

FEDERATION_MD = Path(__file__).resolve().parents[2] / "FEDERATION.md"
ADDRESS = "3 allée des Tilleuls, 93170 Bagnolet"


def table() -> list[tuple[str, str]]:
    """The ``(activity, kind)`` of each row of FEDERATION.md's Activities table."""
    text = FEDERATION_MD.read_text(encoding="utf-8")
    section = text.split("\n## Activities\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `([a-z-]+)` \|", section, flags=re.MULTILINE)
    assert rows, "no Activities table in FEDERATION.md"
    return [(activity, kind) for activity, kind in rows]


def announced_table() -> list[tuple[str, str]]:
    """The ``(activity, kind)`` of each row of FEDERATION.md's "Activities a group announces" table: kinds
    that only arrive inside a group's ``Announce`` (the row is the ``Announce``'s)."""
    text = FEDERATION_MD.read_text(encoding="utf-8")
    section = text.split("\n### Activities a group announces\n", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `([a-z-]+)` \|", section, flags=re.MULTILINE)
    assert rows, "no table of the activities a group announces in FEDERATION.md"
    return [(activity, kind) for activity, kind in rows]


def test_the_table_lists_what_the_dispatcher_composes() -> None:
    dispatcher = inbox_dispatcher()
    rows = table() + announced_table()
    assert len(set(rows)) == len(rows), "a row appears twice"
    assert {activity for activity, _ in rows} == set(dispatcher.types)
    assert {kind for _, kind in rows} == set(dispatcher.handlers)


# --- the scenario -----------------------------------------------------------------------------------------


def ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def in_days(days: float, hours: int = 0) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days, hours=hours)).replace(minute=0, second=0, microsecond=0)


def has_row(node: Node, table_name: str, column: str, value: str) -> bool:
    return node.sql(f"SELECT count(*) FROM {table_name} WHERE {column} = :v", v=value) == [(1,)]  # noqa: S608


def settled(node: Node) -> bool:
    return node.sql("SELECT count(*) FROM inbox WHERE state IN ('pending', 'processing')") == [(0,)]


class Foreign:
    """A server that is no ASASAP node: its actors on an actor server, signing what they post."""

    def __init__(self, server: ActorServer) -> None:
        self.server = server
        self.xavier = actor_on(server, "xavier", key_number=3)
        self.count = 0

    def post(self, node: Node, actor: RemoteTestActor, kind: str, obj: Any, **fields: Any) -> None:
        self.count += 1
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": actor.server.url(f"/activities/{self.count}"),
            "type": kind,
            "actor": actor.uri,
            "object": obj,
            **fields,
        }
        body = json.dumps(activity).encode()
        url = node.url + "/inbox"
        response = httpx.post(url, content=body, headers=actor.signed_headers(url, body), timeout=30)
        assert response.status_code == 202, f"{kind}: {response.status_code} {response.text}"

    def serve_proposal(self, number: int, **changes: Any) -> str:
        pid = self.server.url(f"/proposals/{number}")
        self.server.serve_json(f"/proposals/{number}", proposal_document(self.xavier.uri, pid, **changes))
        return pid


@pytest.fixture
def foreign() -> Iterator[Foreign]:
    with ActorServer() as server:
        yield Foreign(server)


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    """Node A, a market node (SQLite), and node B, a cooperative node (PostgreSQL when configured), whose
    time bank takes transfers from the foreign server and offers it some."""
    root = tmp_path_factory.mktemp("nodes")
    processes = []
    try:
        for name, backend, env in (("a", "sqlite", {}), ("b", "postgresql", {"ASASAP_MODE": "cooperative"})):
            factory = database_factories.get(backend, database_factories["sqlite"])
            process = NodeProcess(root / name, factory.create(), extra_env=env)
            processes.append((process, factory))
            process.init()
            process.start()
        yield [Node(process) for process, _ in processes]
    finally:
        for process, factory in processes:
            process.stop()
            factory.drop(process.database_url)


def transfer_event(server: ActorServer, number: int, payer: str, payee: str) -> dict[str, Any]:
    """A time-token transfer as a cooperative node on the foreign server would offer it."""
    return {
        "type": "EconomicEvent",
        "id": server.url(f"/timebank/transfers/{number}"),
        "action": "transfer",
        "provider": payer,
        "receiver": payee,
        "resourceConformsTo": "https://w3id.org/asasap/ns#TimeToken",
        "resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "1"},
        "transferKind": "gift",
        "hasPointInTime": isoformat(utcnow()),
    }


@pytest.mark.process
def test_every_activity_of_the_table_is_accepted_and_processed(
    two_nodes: list[Node], foreign: Foreign
) -> None:
    a, b = two_nodes
    for node, name in ((a, "alice"), (b, "bob"), (b, "carol")):
        node.add_person(name)
    for name in ("bob", "carol"):
        ok(b.api("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user=name))
    alice, bob = a.uri("alice"), b.uri("bob")

    # The nodes follow each other (Follow of a node actor, Accept at once).
    a.follow_node(b)
    b.follow_node(a)
    wait_until("the nodes follow each other", lambda: a.collection_total("/actor/followers") == 1)
    wait_until("... both ways", lambda: b.collection_total("/actor/followers") == 1)

    # Bob follows Alice; she changes her profile (Update of her actor reaches her follower's node),
    # then removes him (Reject); he follows again and stops (Undo).
    ok(b.api("POST", "/follows", {"target": alice}, user="bob"))
    wait_until("Alice accepted Bob", lambda: b.following_state("bob", alice) == "accepted")
    ok(a.api("PATCH", "/me", {"bio": "Montreuil, quartier de la Boissière."}, user="alice"))
    wait_until("B has Alice's new profile", lambda: "Boissière" in repr(b.sql("SELECT * FROM remote_actors")))
    ok(a.api("POST", "/follows/remove", {"uri": bob}, user="alice"))
    wait_until("Bob was removed", lambda: b.following_state("bob", alice) in (None, "rejected"))
    ok(b.api("POST", "/follows", {"target": alice}, user="bob"))
    wait_until("Alice accepted Bob again", lambda: b.following_state("bob", alice) == "accepted")
    ok(b.api("POST", "/follows/unfollow", {"uri": alice}, user="bob"))
    wait_until(
        "A forgot Bob's follow",
        lambda: a.sql("SELECT count(*) FROM follows WHERE follower_uri = :u", u=bob) == [(0,)],
    )

    # Carol offers a service, changes it, withdraws it: Create, Update, Delete at A.
    offer = ok(b.api("POST", "/proposals", proposal_fields("offer", "Repassage à Bagnolet"), user="carol"))
    wait_until("A has Carol's offer", lambda: has_row(a, "proposals", "ap_id", offer["ap_id"]))
    ok(b.api("PATCH", f"/proposals/{offer['id']}", {"title": "Repassage et couture"}, user="carol"))
    wait_until(
        "A has the new title",
        lambda: (
            a.sql("SELECT title FROM proposals WHERE ap_id = :p", p=offer["ap_id"])
            == [("Repassage et couture",)]
        ),
    )
    ok(b.api("POST", f"/proposals/{offer['id']}/withdraw", user="carol"))
    wait_until(
        "A has it withdrawn",
        lambda: a.sql("SELECT state FROM proposals WHERE ap_id = :p", p=offer["ap_id"]) == [("withdrawn",)],
    )

    # Alice's demands reach B; Bob answers the first, withdraws, answers again; Carol's answer is refused
    # and Bob's accepted (Offer, Undo, Reject and Accept of bids).
    def demand(title: str) -> dict[str, Any]:
        posted: dict[str, Any] = ok(
            a.api(
                "POST",
                "/proposals",
                proposal_fields("request", title, bidding_deadline=in_days(2).isoformat()),
                user="alice",
            ),
        )
        wait_until(f"B has {title!r}", lambda: has_row(b, "proposals", "ap_id", posted["ap_id"]))
        return posted

    def bid(user: str, proposal: dict[str, Any], amount: str = "18") -> dict[str, Any]:
        placed: dict[str, Any] = ok(
            b.api("POST", "/bids", {"proposal": proposal["ap_id"], "amount": amount}, user=user)
        )
        wait_until(f"A has {user}'s bid", lambda: has_row(a, "bids", "ap_id", placed["offer"]))
        return placed

    def received(offer_id: str) -> int:
        [(bid_id,)] = a.sql("SELECT id FROM bids WHERE ap_id = :o", o=offer_id)
        return int(bid_id)

    def accepted(user: str, placed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        held = ok(a.api("POST", f"/bids/{received(placed['offer'])}/accept", user="alice"))
        mirror: dict[str, Any] = {}

        def mirrored() -> bool:
            found = [m for m in ok(b.api("GET", "/agreements", user=user)) if m["ap_id"] == held["ap_id"]]
            mirror.update(found[0] if found else {})
            return bool(found)

        wait_until(f"B mirrors {user}'s agreement", mirrored)
        return held, mirror

    first = demand("Ménage de printemps")
    withdrawn = bid("bob", first)
    ok(b.api("POST", f"/bids/{withdrawn['id']}/withdraw", user="bob"))
    wait_until(
        "A has the bid withdrawn",
        lambda: a.sql("SELECT state FROM bids WHERE ap_id = :o", o=withdrawn["offer"]) == [("withdrawn",)],
    )
    refused = bid("carol", first, "17")
    ok(a.api("POST", f"/bids/{received(refused['offer'])}/reject", {"reason": "Trop tard"}, user="alice"))
    wait_until(
        "B has Carol's bid refused",
        lambda: ok(b.api("GET", f"/bids/{refused['id']}", user="carol"))["state"] == "rejected",
    )
    held, mirror = accepted("bob", bid("bob", first))

    # The agreement: Bob shares his contact twice (Create, then Update of the ContactPoint), confirms
    # (EconomicEvent; the holder's Update follows), Alice confirms (the Receipt), Bob evaluates (Review).
    for phone in ("06 11 22 33 44", "06 55 66 77 88"):
        ok(
            b.api(
                "POST",
                f"/agreements/{mirror['id']}/contact",
                {"address": ADDRESS, "phone": phone},
                user="bob",
            )
        )
        wait_until(
            f"Alice reads {phone}",
            lambda phone=phone: (  # type: ignore[misc]
                ok(a.api("GET", f"/agreements/{held['id']}", user="alice"))
                .get("contacts", {})
                .get("provider", {})
                .get("phone")
                == phone
            ),
        )
    ok(b.api("POST", f"/agreements/{mirror['id']}/confirm", user="bob"))
    wait_until(
        "B follows the holder",
        lambda: ok(b.api("GET", f"/agreements/{mirror['id']}", user="bob"))["state"] == "confirmed_by_one",
    )
    ok(a.api("POST", f"/agreements/{held['id']}/confirm", user="alice"))
    wait_until(
        "B has the receipt",
        lambda: ok(b.api("GET", f"/agreements/{mirror['id']}", user="bob"))["receipt"] is not None,
    )
    review = {"overall": 5, "comment": "Parfait"}
    ok(b.api("POST", f"/agreements/{mirror['id']}/evaluations", review, user="bob"))
    wait_until("A has Bob's evaluation", lambda: a.sql("SELECT count(*) FROM evaluations") == [(1,)])

    # Two more agreements: Bob cancels one (Reject of the Agreement) and disputes the other (Flag).
    for title, action, state in (
        ("Courses du samedi", "cancel", "cancelled"),
        ("Lessive et repassage", "dispute", "disputed"),
    ):
        held, mirror = accepted("bob", bid("bob", demand(title)))
        ok(b.api("POST", f"/agreements/{mirror['id']}/{action}", {"reason": "Empêchement"}, user="bob"))
        wait_until(
            f"A has it {state}",
            lambda held=held, state=state: (  # type: ignore[misc]
                ok(a.api("GET", f"/agreements/{held['id']}", user="alice"))["state"] == state
            ),
        )

    # A group on A (FEP-1b12). Bob joins from B (Join at A, Accept at B); Carol's request is refused (Reject
    # at B), she is invited (Invite at B) and accepts (Accept at A); the group makes Bob coordinator and sends
    # a notice (two Announces at B: an Add on its moderators, a Create of a Note), removes Carol (Remove at
    # B), answers her demand and assigns Bob, then Alice (Create and Update of a Commitment at B); Bob steps
    # down and leaves (Leave at A).
    group = ok(
        a.api(
            "POST", "/groups", {"name": "coop", "display_name": "Coop", "legal_shape": "scic"}, user="alice"
        )
    )
    gid, carol = group["id"], b.uri("carol")
    for name in ("bob", "carol"):
        ok(b.api("POST", "/groups/remote/join", {"group": gid}, user=name))
    wait_until(
        "A has both requests", lambda: len(ok(a.api("GET", "/groups/coop/members", user="alice"))) == 3
    )
    member_ids = {m["actor"]: m["id"] for m in ok(a.api("GET", "/groups/coop/members", user="alice"))}

    def state_on_b(name: str) -> tuple[str, str]:
        found = [g for g in ok(b.api("GET", "/me/groups", user=name)) if g["group"] == gid]
        return (found[0]["state"], found[0]["role"]) if found else ("", "")

    ok(a.api("POST", f"/groups/coop/members/{member_ids[bob]}/decision", {"accept": True}, user="alice"))
    ok(a.api("POST", f"/groups/coop/members/{member_ids[carol]}/decision", {"accept": False}, user="alice"))
    wait_until(
        "B has Bob in, Carol refused",
        lambda: (state_on_b("bob")[0], state_on_b("carol")[0]) == ("active", "rejected"),
    )
    ok(a.api("POST", "/groups/coop/invitations", {"person": carol}, user="alice"))
    wait_until("B has Carol invited", lambda: state_on_b("carol")[0] == "invited")
    ok(b.api("POST", "/groups/remote/answer", {"group": gid, "accept": True}, user="carol"))
    wait_until(
        "A has Carol in",
        lambda: any(
            m["actor"] == carol and m["state"] == "active"
            for m in ok(a.api("GET", "/groups/coop/members", user="alice"))
        ),
    )
    ok(a.api("PATCH", f"/groups/coop/members/{member_ids[bob]}", {"role": "coordinator"}, user="alice"))
    ok(a.api("POST", "/groups/coop/notices", {"text": "Réunion jeudi"}, user="alice"))
    wait_until("B has Bob coordinator", lambda: state_on_b("bob") == ("active", "coordinator"))
    wait_until("B has the notice", lambda: b.sql("SELECT count(*) FROM group_notices") == [(2,)])
    ok(a.api("DELETE", f"/groups/coop/members/{member_ids[carol]}", user="alice"))
    wait_until("B has Carol removed", lambda: state_on_b("carol")[0] == "removed")
    ok(a.api("PATCH", "/me", {"provider_status": "volunteer", "offers_services": True}, user="alice"))
    windows = ok(b.api("POST", "/proposals", proposal_fields("request", "Vitres et rideaux"), user="carol"))
    wait_until("A has Carol's demand", lambda: has_row(a, "proposals", "ap_id", windows["ap_id"]))
    ok(a.api("POST", "/groups/coop/bids", {"proposal": windows["ap_id"], "amount": "19"}, user="alice"))
    wait_until(
        "B has the group's answer",
        lambda: len(ok(b.api("GET", f"/bids?proposal={windows['ap_id']}", user="carol"))) == 1,
    )
    [answer] = ok(b.api("GET", f"/bids?proposal={windows['ap_id']}", user="carol"))
    carols = ok(b.api("POST", f"/bids/{answer['id']}/accept", user="carol"))
    wait_until(
        "A mirrors the group's agreement",
        lambda: len(ok(a.api("GET", "/groups/coop/agreements", user="alice"))) == 1,
    )
    [group_agreement] = ok(a.api("GET", "/groups/coop/agreements", user="alice"))
    for member in (bob, alice):
        ok(
            a.api(
                "POST",
                f"/groups/coop/agreements/{group_agreement['id']}/assign",
                {"member": member},
                user="alice",
            )
        )
        wait_until(
            f"B has {member} carrying it out",
            lambda member=member: (
                ok(b.api("GET", f"/agreements/{carols['id']}", user="carol"))["performer"] == member
            ),  # type: ignore[misc]
        )
    ok(a.api("PATCH", f"/groups/coop/members/{member_ids[bob]}", {"role": "member"}, user="alice"))
    wait_until("B has Bob member again", lambda: state_on_b("bob") == ("active", "member"))
    ok(b.api("POST", "/groups/remote/leave", {"group": gid}, user="bob"))
    wait_until(
        "A has Bob gone",
        lambda: all(m["actor"] != bob for m in ok(a.api("GET", "/groups/coop/members", user="alice"))),
    )

    # Alice (A) and Bob (B) talk about her first demand: direct Notes both ways, one thread (Create, message).
    written = ok(
        a.api(
            "POST",
            "/conversations",
            {"to": [bob], "text": "Bonjour Bob, une question sur ma demande.", "about": first["ap_id"]},
            user="alice",
        )
    )

    def bob_received() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = ok(b.api("GET", "/conversations", user="bob"))
        return found

    wait_until("Bob received Alice's message", lambda: [c["unread"] for c in bob_received()] == [1])
    (on_b,) = bob_received()
    assert on_b["about"] == first["ap_id"] and on_b["others"] == [alice]
    ok(b.api("POST", f"/conversations/{on_b['id']}/messages", {"text": "Oui, je vous écoute."}, user="bob"))
    thread = f"/conversations/{written['conversation']['id']}"
    wait_until(
        "Alice has Bob's answer in the same thread",
        lambda: (
            [m["text"] for m in ok(a.api("GET", thread, user="alice"))["messages"]]
            == ["Bonjour Bob, une question sur ma demande.", "Oui, je vous écoute."]
        ),
    )

    # The foreign server: a reply to Alice's demand, a proposal sent by reference then updated, Alice
    # follows Xavier (who accepts) and he announces another proposal; at last he deletes his actor.
    x = foreign.xavier
    foreign.post(
        a,
        x,
        "Create",
        {
            "id": x.uri + "/statuses/1",
            "type": "Note",
            "attributedTo": x.uri,
            "inReplyTo": first["ap_id"],
            "content": "<p>Encore disponible ?</p>",
            "to": [alice],
        },
    )
    reference = foreign.serve_proposal(1)
    foreign.post(a, x, "Create", reference)
    wait_until("A fetched the referenced proposal", lambda: has_row(a, "proposals", "ap_id", reference))
    foreign.serve_proposal(1, name="Jardinage et taille", updated=isoformat(utcnow()))
    foreign.post(a, x, "Update", reference)
    wait_until(
        "A fetched it again",
        lambda: (
            a.sql("SELECT title FROM proposals WHERE ap_id = :p", p=reference) == [("Jardinage et taille",)]
        ),
    )
    ok(a.api("POST", "/follows", {"target": x.uri}, user="alice"))
    [(follow_id,)] = a.sql("SELECT activity_id FROM follows WHERE followee_uri = :u", u=x.uri)
    foreign.post(a, x, "Accept", {"id": follow_id, "type": "Follow", "actor": alice, "object": x.uri})
    wait_until("Alice follows Xavier", lambda: a.following_state("alice", x.uri) == "accepted")

    # Time bank (B is cooperative): Xavier's node offers Carol a transfer (Offer); Bob's gifts to Xavier
    # are accepted, then refused by Xavier's node (Accept, Reject of B's offers).
    foreign.post(b, x, "Offer", transfer_event(foreign.server, 1, x.uri, b.uri("carol")), to=[b.uri("carol")])
    wait_until(
        "Carol received Xavier's hour",
        lambda: b.sql("SELECT state FROM timebank_transfers WHERE direction = 'in'") == [("settled",)],
    )
    for answer in ("Accept", "Reject"):
        body = {"recipient": x.uri, "amount": "1", "confirm": True}
        gift = ok(b.api("POST", "/timebank/gifts", body, user="bob"))
        [(offer,)] = b.sql("SELECT offer_activity_id FROM timebank_transfers WHERE uri = :u", u=gift["uri"])
        refusal = {"refusal": "unknown-payee", "retryable": False} if answer == "Reject" else {}
        foreign.post(b, x, answer, offer, result=gift["uri"], to=[b.url + "/actor"], **refusal)
        wait_until(
            f"Bob's gift is answered ({answer})",
            lambda gift=gift, answer=answer: (  # type: ignore[misc]
                b.sql("SELECT state FROM timebank_transfers WHERE uri = :u", u=gift["uri"])
                == [("settled" if answer == "Accept" else "refused",)]
            ),
        )

    # Xavier writes to Alice directly, and his server reports her and her demand (a Flag listing both).
    foreign.post(
        a,
        x,
        "Create",
        {
            "id": x.uri + "/statuses/2",
            "type": "Note",
            "attributedTo": x.uri,
            "content": "<p>Bonjour Alice, un message privé.</p>",
            "to": [alice],
            "tag": [{"type": "Mention", "href": alice}],
        },
        to=[alice],
    )
    foreign.post(a, x, "Flag", [alice, first["ap_id"]], content="Annonce douteuse")
    wait_until("A queued the report", lambda: a.sql("SELECT count(*) FROM reports") == [(1,)])
    # Xavier likes Alice's demand and boosts it, then takes the like back: counted for her.
    foreign.post(a, x, "Like", first["ap_id"])
    like = {"id": foreign.server.url(f"/activities/{foreign.count}"), "type": "Like", "actor": x.uri}
    wait_until("A counted the like", lambda: a.sql("SELECT kind FROM proposal_reactions") == [("like",)])
    foreign.post(a, x, "Announce", first["ap_id"], to=["https://www.w3.org/ns/activitystreams#Public"])
    foreign.post(a, x, "Undo", {**like, "object": first["ap_id"]})
    wait_until(
        "A counted the boost only", lambda: a.sql("SELECT kind FROM proposal_reactions") == [("boost",)]
    )

    announced = foreign.serve_proposal(2)
    foreign.post(a, x, "Announce", announced, to=["https://www.w3.org/ns/activitystreams#Public"])
    wait_until("A fetched the announced proposal", lambda: has_row(a, "proposals", "ap_id", announced))
    # Xavier moves to a new account that lists him: Alice's follow moves there (Move).
    moved = actor_on(foreign.server, "xavier-new", key_number=4)
    moved.publish(alsoKnownAs=[x.uri])
    foreign.post(a, x, "Move", x.uri, target=moved.uri)
    wait_until("Alice's follow moved", lambda: a.following_state("alice", moved.uri) is not None)
    foreign.post(a, x, "Delete", x.uri, to=["https://www.w3.org/ns/activitystreams#Public"])
    wait_until(
        "Xavier's proposals are withdrawn",
        lambda: (
            a.sql("SELECT DISTINCT state FROM proposals WHERE author_uri = :u", u=x.uri) == [("withdrawn",)]
        ),
    )

    # A visit held on B is given to Alice on A (an Offer of a Commitment at A), who clocks in from A by hand
    # (an EconomicEvent to B's node).
    b.add_person("dora")
    assert b.process.cli("user", "set-role", "dora", "coordinator").returncode == 0
    plan = api_plan(b, "dora", {"name": "Mme Martin", "commune": "Bagnolet"}, folder="APA-3")
    [visit] = b.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": started_ago(30), "minutes": 60},
        user="dora",
    )
    given = b.ok("POST", f"/visits/{visit['id']}/remote-provider", {"actor": alice}, user="dora")
    clock = {"holder": b.url + "/actor", "visit": given["visit"], "kind": "in", "manual_reason": "qr_missing"}
    assert a.api("POST", "/remote-clock-events", clock, user="alice").status_code == 202
    wait_until(
        "B clocked Alice in",
        lambda: b.sql("SELECT state FROM tm_visits WHERE id = :v", v=visit["id"]) == [("in_progress",)],
    )
    # Another visit given to Alice (an Offer of its Commitment at A), then cancelled on B (a Delete at A).
    [other] = b.ok(
        "POST",
        "/visits",
        {"plan_id": plan["id"], "category": "housework", "start": started_ago(10), "minutes": 60},
        user="dora",
    )
    other_uri = b.ok("POST", f"/visits/{other['id']}/remote-provider", {"actor": alice}, user="dora")["visit"]
    wait_until("A has it on Alice's day", lambda: has_row(a, "tm_remote_visits", "uri", other_uri))
    b.ok("POST", f"/visits/{other['id']}/cancel", {"reason": "beneficiary_absent"}, user="dora")
    wait_until(
        "A took it off her day",
        lambda: a.sql("SELECT count(*) FROM tm_remote_visits WHERE uri = :v", v=other_uri) == [(0,)],
    )

    # What each node's inbox made of it all.
    for node in (a, b):
        wait_until(f"{node.domain} processed its inbox", lambda node=node: settled(node))  # type: ignore[misc]
    processed: set[tuple[str, str]] = set()
    for node in (a, b):
        failed = node.sql("SELECT type, kind, error FROM inbox WHERE state = 'failed'")
        assert failed == [], (node.domain, failed)
        processed |= {(t, k) for t, k in node.sql("SELECT type, kind FROM inbox WHERE state = 'done'")}
    missing = [row for row in table() if row not in processed]
    assert missing == [], f"rows of the table no node processed: {missing}"
    assert processed <= set(table()), (
        f"kinds processed that the table does not list: {processed - set(table())}"
    )
