"""Where the tests' data lives: the specifications' test vectors and payloads captured from other servers."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
VECTORS = DATA / "vectors"
FEP_0837 = VECTORS / "fep-0837"
CAPTURED = DATA / "activitypub"
