"""Schemathesis hooks for the contract test (``SCHEMATHESIS_HOOKS=tests.support.contract_hooks``): every
generated request carries a working token of the person named by ``ASASAP_CONTRACT_USER`` on the node
whose database is ``ASASAP_CONTRACT_DATABASE_URL``. Generated cases revoke tokens (``DELETE
/tokens/{id}``), so a revoked one is replaced by a new one, made directly in the node's database."""

from __future__ import annotations

import functools
import os
from typing import Any

import schemathesis
from sqlalchemy import Engine

from node.accounts import credentials, service
from node.core import db


@functools.cache
def _engine() -> Engine:
    return db.make_engine(os.environ["ASASAP_CONTRACT_DATABASE_URL"])


_current: dict[str, str] = {}


@schemathesis.auth(refresh_interval=None)
class NodeToken:
    """A token that works now: the one in use while it does, else a new one."""

    def get(self, case: schemathesis.Case[Any], context: Any) -> str:
        secret = _current.get("token") or os.environ["ASASAP_CONTRACT_TOKEN"]
        with db.session_scope(_engine(), write=True) as session:
            if credentials.user_for_api_token(secret, session=session) is None:
                user = service.get_user(os.environ["ASASAP_CONTRACT_USER"], session=session)
                _, secret = credentials.create_api_token(user, "contract", session=session)
        _current["token"] = secret
        return secret

    def set(self, case: schemathesis.Case[Any], data: str, context: Any) -> None:
        case.headers["Authorization"] = f"Bearer {data}"
