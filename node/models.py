"""Every table of the node, imported in one place so that migrations see the whole schema."""

from __future__ import annotations

from node.accounts import blocks as accounts_blocks  # people's blocks (issue 14)
from node.accounts import models as accounts_models
from node.accounts import moving as accounts_moving  # our people moving away (issue 14)
from node.accounts import recovery as accounts_recovery  # password reset links (issue 14)
from node.activitypub import keys as activitypub_keys
from node.activitypub import models as activitypub_models
from node.conversations import models as conversations_models  # conversations, moderation (issue 14)
from node.core import limits as core_limits
from node.core import mail as core_mail  # outgoing e-mail (issue 14)
from node.core import processes as core_processes
from node.core.sqlbase import SQLModel
from node.emails import notices as emails_notices  # notification e-mails (issue 14)
from node.emails import preferences as emails_preferences
from node.emails import push as emails_push  # Web Push (issue 14)
from node.groups import models as groups_models
from node.market import models as market_models
from node.market.proposals import reactions as market_reactions  # likes and boosts (issue 14)
from node.research import models as research_models  # research figures (issue 15)
from node.search import models as search_models  # search (issue 10)
from node.search.matching import models as matching_models  # matching (issue 10)
from node.telemanagement import billing_models as telemanagement_billing  # invoices (issue 11)
from node.telemanagement import models as telemanagement_models  # telemanagement (issue 11)
from node.telemanagement import tables as telemanagement_tables  # clock log, PINs, absences (issue 11)
from node.timebank import models as timebank_models  # time bank (issue 12)

metadata = SQLModel.metadata

__all__ = [
    "accounts_blocks",
    "accounts_models",
    "activitypub_keys",
    "activitypub_models",
    "conversations_models",
    "core_limits",
    "core_processes",
    "groups_models",
    "market_models",
    "matching_models",
    "market_reactions",
    "metadata",
    "telemanagement_models",
    "telemanagement_billing",
    "telemanagement_tables",
    "research_models",
    "search_models",
    "timebank_models",
    "accounts_moving",
    "accounts_recovery",
    "core_mail",
    "emails_notices",
    "emails_preferences",
    "emails_push",
]
