"""The demo's tables: the shipped ones load into the data the seeding uses, ship in the wheel, and a bad
value is refused with a message naming file, row, line and column."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from node.accounts.models import Role
from node.catalog.statuses import ProviderStatus
from node.cli import main
from node.demo import loader
from node.demo.loader import data_folder, load_demo
from node.demo.specs import DemoBid, DemoEvaluation, DemoFollow, DemoPerson, DemoProposal, Weekly, Window
from node.demo.tables import DemoDataError
from node.settings import Mode

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "nodes",
    "people",
    "proposals",
    "follows",
    "bids",
    "agreements",
    "evaluations",
    "timebank",
    "timebank_agreements",
    "groups",  # the micro-organisations' tables (node.demo.groups)
    "group_colleges",
    "group_members",
)
ROW_NAMES = {
    "nodes": "node",
    "people": "person",
    "proposals": "proposal",
    "follows": "follow",
    "bids": "bid",
    "agreements": "agreement",
    "evaluations": "evaluation",
    "groups": "group",
    "group_colleges": "college",
    "group_members": "member",
}


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """A copy of the shipped tables, to spoil."""
    folder = tmp_path / "data"
    folder.mkdir()
    for table in TABLES:
        (folder / f"{table}.toml").write_bytes(data_folder().joinpath(f"{table}.toml").read_bytes())
    return folder


def header_lines(path: Path, row_name: str) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [index + 1 for index, line in enumerate(lines) if line.strip() == f"[[{row_name}]]"]


def set_value(folder: Path, table: str, row: int, column: str, value: str | None) -> int:
    """Write ``column = value`` (TOML) in row ``row`` of the table (None: remove the column); the line
    where the row starts."""
    path = folder / f"{table}.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = header_lines(path, ROW_NAMES[table])
    first, end = starts[row - 1], (starts[row] - 1 if row < len(starts) else len(lines))
    found = [i for i in range(first, end) if re.match(rf"{column}\s*=", lines[i])]
    if value is None:
        assert found, f"no {column} in row {row} of {table}"
        del lines[found[0]]
    elif found:
        lines[found[0]] = f"{column} = {value}"
    else:
        lines.insert(first, f"{column} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return first


def refusal(folder: Path) -> str:
    with pytest.raises(DemoDataError) as raised:
        load_demo(folder)
    return str(raised.value)


def test_the_shipped_tables_load_into_the_demo_data() -> None:
    data = load_demo()
    assert [(node.slug, node.mode) for node in data.nodes] == [
        ("montreuil", Mode.MARKET),
        ("bagnolet", Mode.MARKET),
        ("cooperative", Mode.COOPERATIVE),
    ]
    assert [len(node.people) for node in data.nodes] == [7, 7, 7]
    assert [len(node.proposals) for node in data.nodes] == [8, 8, 8]
    assert (len(data.follows), len(data.bids), len(data.agreement.evaluations)) == (5, 7, 2)
    montreuil, bagnolet, cooperative = data.nodes
    assert [person.username for person in montreuil.people[:3]] == ["admin", "coordination", "amina"]
    assert bagnolet.people[2] == DemoPerson(
        "fatou",
        "Fatou Traoré",
        Role.MEMBER,
        "93170",
        "Bagnolet",
        "Auto-entrepreneuse depuis six ans : ménage, repassage, garde d'enfants après l'école.",
        offers=True,
        requests=False,
        provider_status=ProviderStatus.SELF_EMPLOYED,
        siret="84215937800012",
        categories=("housework", "childcare-over-3", "child-escort-over-3", "laundry-delivery"),
    )
    assert data.proposal_named("amina-ecole") == (
        montreuil,
        DemoProposal(
            "amina-ecole",
            "amina",
            "request",
            "Sortie d'école et goûter pour deux enfants (6 et 8 ans)",
            "<p>Aller chercher mes enfants à l'école Jules-Ferry, goûter et devoirs jusqu'à mon retour.</p>",
            "child-escort-over-3",
            "93100",
            "Montreuil",
            "2",
            price="13",
            schedule=Weekly(("MO", "TU", "TH", "FR"), "16:30", "18:30", weeks=10, in_days=8),
            bids_for_days=6,
        ),
    )
    assert data.proposal_named("mai-garde")[1].schedule == Window(9, "18:30", "22:30")
    assert data.proposal_named("chloe-devoirs")[1].schedule == Weekly(("WE",), "14:00", "16:00", weeks=8)
    assert data.proposal_named("nadia-papiers")[1].price == ""
    assert cooperative.proposals[0].price == "1"
    assert data.follows[0] == DemoFollow("montreuil", "josette", "cooperative", "thomas")
    assert data.bids[4] == DemoBid(
        "bagnolet", "marcel", "bernard-jardin", "", "Bonjour, mon jardin fait 40 m², au Pré-Saint-Gervais."
    )
    assert (data.agreement.proposal, data.agreement.bidder) == ("amina-travaux", "fatou")
    assert data.agreed_bid() == data.bids[0]
    assert data.agreement.evaluations[1] == DemoEvaluation(
        "bagnolet",
        "fatou",
        4,
        {"clarity": 4, "welcome": 5, "payment": 5},
        "Consignes claires et accueil chaleureux ; paiement comme convenu.",
    )


def test_the_tables_ship_in_the_package() -> None:
    shipped = sorted(entry.name for entry in data_folder().iterdir())
    assert shipped == sorted(f"{table}.toml" for table in TABLES)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["node"]
    for name in shipped:
        assert any(fnmatch.fnmatch(f"demo/data/{name}", pattern) for pattern in patterns), name


# (table, row, column, TOML value or None to leave the column out, what the message says)
BAD_VALUES = [
    ("nodes", 3, "mode", '"coop"', "'coop' is not one of market, cooperative"),
    ("nodes", 2, "slug", '"montreuil"', "'montreuil' is already used by another row"),
    ("people", 3, "node", '"paris"', "no 'paris' in nodes.toml"),
    ("people", 3, "postal_code", '"9310"', "'9310' is not a French postal code (five digits)"),
    ("people", 3, "postal_code", '"93170"', "no commune named 'Montreuil' has the postal code 93170"),
    ("people", 3, "role", '"boss"', "'boss' is not one of member, coordinator, admin"),
    ("people", 3, "offers", '"yes"', "'yes' is not true or false"),
    ("people", 3, "bio", None, "missing"),
    ("people", 3, "postcode", '"93100"', "not a column of this table"),
    ("people", 3, "username", '"coordination"', "'coordination' is already a person of 'montreuil'"),
    ("people", 4, "categories", '["housework", "gardenning"]', "'gardenning' is not a service category"),
    ("people", 4, "siret", '"73282932000075"', "is not a SIRET number"),
    ("people", 4, "siret", None, "a self-employed provider needs a SIRET number"),
    ("people", 3, "categories", '["housework"]', "only for people who offer services"),
    ("proposals", 1, "category", '"cleaning"', "'cleaning' is not a service category"),
    ("proposals", 1, "author", '"amine"', "no person 'amine' of node 'montreuil' in people.toml"),
    ("proposals", 1, "author", '"fatou"', "no person 'fatou' of node 'montreuil' in people.toml"),
    ("proposals", 1, "price", "100", "100 is not a string"),
    ("proposals", 1, "price", '"cent"', "'cent' is not a positive amount"),
    ("proposals", 1, "postal_code", '"93000"', "no commune named 'Montreuil' has the postal code 93000"),
    ("proposals", 2, "key", '"amina-travaux"', "'amina-travaux' is already used by another row"),
    ("proposals", 2, "days", '["MO", "XX"]', "'XX' is not one of MO, TU, WE, TH, FR, SA, SU"),
    ("proposals", 2, "start", '"25:00"', "'25:00' is not a time of day written HH:MM"),
    ("proposals", 2, "end", '"16:00"', "16:00 is not after the start, 16:30"),
    ("proposals", 2, "weeks", "true", "true is not a whole number"),
    ("proposals", 2, "bids_for_days", "9", "the bidding must close before the service starts"),
    ("proposals", 3, "days", '["MO"]', "only with a schedule"),
    ("proposals", 5, "price", '"10"', "a free service has no price"),
    ("follows", 1, "followee", '"tomas"', "no person 'tomas' of node 'cooperative' in people.toml"),
    ("follows", 1, "followee_node", '"lyon"', "no person of node 'lyon' in people.toml"),
    ("bids", 1, "proposal", '"amina-travail"', "no 'amina-travail' in proposals.toml"),
    ("bids", 1, "bidder", '"fatoumata"', "no person 'fatoumata' of node 'bagnolet' in people.toml"),
    ("bids", 1, "proposal", '"nadia-maths"', "'nadia-maths' is of the bidder's own node, 'bagnolet'"),
    ("bids", 1, "amount", '"95,50"', "'95,50' is not a positive amount"),
    ("agreements", 1, "bidder", '"odile"', "'odile' has no bid on 'amina-travaux' in bids.toml"),
    ("agreements", 1, "proposal", '"mai-garde"', "no 'mai-garde' in the proposals of bids.toml"),
    ("evaluations", 1, "evaluator", '"chloe"', "'chloe' of 'montreuil' is not a party to the agreement"),
    ("evaluations", 2, "evaluator", '"amina"', "no person 'amina' of node 'bagnolet' in people.toml"),
    ("evaluations", 2, "node", '"lyon"', "no person of node 'lyon' in people.toml"),
    ("evaluations", 1, "proposal", '"mai-garde"', "is not the proposal of the agreement, 'amina-travaux'"),
    ("evaluations", 1, "overall", "6", "6: from 1 to 5"),
    (
        "evaluations",
        1,
        "criteria",
        "{ punctuality = 5, clarity = 4 }",
        "'clarity' is not a criterion for rating a provider (punctuality, quality, respect)",
    ),
]


@pytest.mark.parametrize(("table", "row", "column", "value", "says"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_file_row_and_column(
    tables: Path, table: str, row: int, column: str, value: str | None, says: str
) -> None:
    line = set_value(tables, table, row, column, value)
    message = refusal(tables)
    assert message.startswith(f"{tables / table}.toml, row {row} (line {line}), column {column!r}: "), message
    assert says in message, message


def test_the_whole_row_is_named_when_no_single_column_is_wrong(tables: Path) -> None:
    """A row repeating another: the row itself is at fault."""
    path = tables / "follows.toml"
    path.write_text(
        path.read_text(encoding="utf-8") + '\n[[follow]]\nfollower_node = "montreuil"\nfollower = "josette"\n'
        'followee_node = "cooperative"\nfollowee = "thomas"\n',
        encoding="utf-8",
    )
    line = header_lines(path, "follow")[-1]
    assert refusal(tables) == (f"{path}, row 6 (line {line}): the same follow is already in another row")


def test_a_follow_joins_two_nodes(tables: Path) -> None:
    set_value(tables, "follows", 1, "followee", '"amina"')
    line = set_value(tables, "follows", 1, "followee_node", '"montreuil"')
    assert refusal(tables) == (
        f"{tables / 'follows.toml'}, row 1 (line {line}), column 'followee_node': "
        "a follow joins people of two different nodes"
    )


def test_one_agreement_exactly(tables: Path) -> None:
    path = tables / "agreements.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '\n[[agreement]]\nproposal = "nadia-maths"\nbidder = "chloe"\n', encoding="utf-8")
    assert refusal(tables) == f"{path}: 2 rows; the seeding makes exactly one agreement"


def test_a_table_that_is_not_toml_is_refused_with_its_line(tables: Path) -> None:
    path = tables / "bids.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('amount = "95"', "amount = 95 €"), encoding="utf-8"
    )
    message = refusal(tables)
    assert message.startswith(f"{path}: not valid TOML: ") and "line " in message, message


def test_a_missing_table_is_named(tables: Path) -> None:
    (tables / "evaluations.toml").unlink()
    assert refusal(tables) == f"{tables / 'evaluations.toml'}: no such file; the demo needs this table"


def test_a_table_holds_only_its_rows(tables: Path) -> None:
    path = tables / "bids.toml"
    path.write_text('title = "bids"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert refusal(tables) == f"{path}: holds 'title'; only [[bid]] rows belong in this table"


def test_the_demo_command_stops_on_a_bad_table_before_creating_anything(
    tables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = set_value(tables, "proposals", 1, "category", '"cleaning"')
    monkeypatch.setattr(loader, "data_folder", lambda: tables)
    root = tmp_path / "demo"
    assert main(["demo", "--dir", str(root), "--no-serve", "--base-port", "18501"]) == 1
    err = capsys.readouterr().err
    assert f"proposals.toml, row 1 (line {line}), column 'category': 'cleaning'" in err, err
    assert "Traceback" not in err and not root.exists()


def test_the_spoiling_helper_changes_what_it_says(tables: Path) -> None:
    """The copies load as the shipped tables do until a value is changed."""
    assert load_demo(tables) == load_demo()
    set_value(tables, "people", 3, "display_name", '"Amina B."')
    assert load_demo(tables).nodes[0].people[2].display_name == "Amina B."
