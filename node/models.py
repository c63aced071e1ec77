"""Every table of the node, imported in one place so that migrations see the whole schema."""

from __future__ import annotations

from node.accounts import models as accounts_models
from node.activitypub import keys as activitypub_keys
from node.activitypub import models as activitypub_models
from node.core import limits as core_limits
from node.core import processes as core_processes
from node.core.sqlbase import SQLModel
from node.groups import models as groups_models
from node.market import models as market_models
from node.search import models as search_models  # search (issue 10)
from node.timebank import models as timebank_models  # time bank (issue 12)

metadata = SQLModel.metadata

__all__ = [
    "accounts_models",
    "activitypub_keys",
    "activitypub_models",
    "core_limits",
    "core_processes",
    "groups_models",
    "market_models",
    "metadata",
    "search_models",
    "timebank_models",
]
