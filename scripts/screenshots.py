"""Screenshots of the main pages on a phone (360 × 740), for the residents' guide: a real node is started
on loopback (SQLite, in a temporary folder), given a few people and offers through its API and the
command line, and Debian's Chromium (Playwright) photographs each page into docs/guide/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/guide/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.accounts import PASSWORD  # noqa: E402
from tests.support.browser import CHROMIUM, LAUNCH_ARGS, PHONE_WIDTH  # noqa: E402
from tests.support.market import proposal_fields  # noqa: E402
from tests.support.nodes import Node, NodeProcess  # noqa: E402

HEIGHT = 740
OFFERS = ("Repassage du mardi soir", "Tonte de pelouse à Montreuil", "Aide aux devoirs de maths")
# (file name, who is logged in, path; "{proposal}" is the first offer's page)
SHOTS = (
    ("accueil", None, "/"),
    ("recherche", None, "/proposals"),
    ("annonce", "alice", "{proposal}"),
    ("publier", "alice", "/proposals/new"),
    ("moi", "alice", "/me"),
    ("accueil-connecte", "alice", "/"),
    ("style", "ada", "/style"),
)


def _fill(node: Node) -> None:
    """An administrator, two people and a few offers."""
    created = node.process.cli("user", "create", "ada", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert created.returncode == 0, created.stderr
    for name in ("alice", "bob"):
        node.add_person(name)
    node.ok("PATCH", "/me", {"provider_status": "private_individual", "offers_services": True}, user="bob")
    for title in OFFERS:
        node.ok("POST", "/proposals", proposal_fields("offer", title), user="bob")


def _log_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda address: "/login" not in address)


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        process = NodeProcess(Path(folder) / "node", f"sqlite:///{folder}/node.db")
        process.cli("migrate")
        process.init()
        process.start()
        try:
            node = Node(process)
            _fill(node)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                pages: dict[str | None, Page] = {}
                for name, username, path in SHOTS:
                    if username not in pages:
                        context = browser.new_context(
                            viewport={"width": PHONE_WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True,
                            locale="fr-FR",
                        )
                        pages[username] = context.new_page()
                        if username:
                            _log_in(pages[username], node.url, username)
                    page = pages[username]
                    if "{proposal}" in path:
                        page.goto(node.url + "/proposals")
                        link = page.locator("li.proposal-card h3 a").first.get_attribute("href")
                        path = link or "/proposals"
                    page.goto(node.url + path)
                    target = out / f"{name}.png"
                    page.screenshot(path=str(target))  # the first screen, as a phone shows it
                    written.append(target)
                browser.close()
        finally:
            process.stop()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "guide" / "screenshots")
    args = parser.parse_args()
    for path in take(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
