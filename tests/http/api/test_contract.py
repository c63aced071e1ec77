"""The JSON API against its own OpenAPI document, on a live node: schemathesis generates requests for
every operation the document declares (new resources are covered as they are declared), sends them to
a real ``asasap serve`` and checks every answer: no server error, only documented statuses, content
types, headers and response bodies that match their schemas, schema-violating requests refused.

Every request the document allows must be accepted too (``positive_data_acceptance``): the document
states each rule a field obeys on its own. A refusal that depends on the node's state or data (a handle
that resolves to nobody, a postal code and a commune's name that name no commune together, a name
already taken) or on several fields at once answers 404, 409 or, for the few operations listed with
their rule in ``schemathesis.toml``, 422 with the field named.

Bounded: ``MAX_EXAMPLES`` generated cases per operation and phase."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.databases import DatabaseFactory
from tests.support.nodes import Node, running_nodes

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[3]
MAX_EXAMPLES = 5
UNLIMITED = {  # the abuse limits have their own tests; here they would hide the API behind 429s
    f"ASASAP_LIMIT_{name}": "0"
    for name in (
        "API_REQUESTS_PER_TOKEN_MINUTE",
        "PROPOSALS_PER_PERSON_DAY",
        "BIDS_PER_PERSON_DAY",
        "BIDS_PER_PROPOSAL_DAY",
        "FOLLOWS_PER_PERSON_DAY",
        "TOKENS_PER_PERSON_HOUR",
        "MESSAGES_PER_PERSON_HOUR",
        "REPORTS_PER_PERSON_DAY",
    )
}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[Node]:
    with running_nodes(
        tmp_path_factory.mktemp("contract"), database_factories, ["sqlite"], UNLIMITED
    ) as nodes:
        node = nodes[0]
        node.add_person("amina")
        done = node.process.cli("user", "set-role", "amina", "coordinator")
        assert done.returncode == 0, done.stderr
        yield node


# The run has its own limit (the subprocess's 600 s); the suite's 300 s per test cut it short on a
# machine loaded several times over.
@pytest.mark.timeout(660)
def test_every_operation_keeps_its_contract(live: Node, tmp_path: Path) -> None:
    """Every operation of the document, ``MAX_EXAMPLES`` cases per operation and phase (examples,
    coverage of each schema's edges, fuzzing, stateful sequences), with a fixed seed."""
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={Path(__file__).with_name('schemathesis.toml')}",
        "run",
        live.url + "/api/v1/openapi.json",
        "--checks=all",
        f"--max-examples={MAX_EXAMPLES}",
        "--seed=20261207",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
    ]
    env = {
        **live.process.env,
        "SCHEMATHESIS_HOOKS": "tests.support.contract_hooks",
        "ASASAP_CONTRACT_DATABASE_URL": live.process.database_url,
        "ASASAP_CONTRACT_USER": "amina",
        "ASASAP_CONTRACT_TOKEN": live.tokens["amina"],
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-20000:]
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) >= 25, report[-3000:]
    assert "passed" in report and "failures" not in report.split("SUMMARY")[-1], report[-3000:]


def test_the_document_declares_what_every_operation_can_answer(live: Node) -> None:
    raw = httpx.get(live.url + "/api/v1/openapi.json", timeout=10).json()
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"401", "429"} <= statuses, (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]
            if "{" in path:
                assert "404" in statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= statuses, (method, path)
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in statuses, (method, path)
    assert len(raw["paths"]) >= 25
