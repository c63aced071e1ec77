"""The one :class:`~node.api.framework.Api` of version 1; operation modules register on it when imported."""

from __future__ import annotations

from node.api.framework import Api

api = Api()
