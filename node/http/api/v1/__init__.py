"""The one :class:`~node.http.api.framework.Api` of version 1; operation modules register on it when
imported."""

from __future__ import annotations

from node.http.api.framework import Api

api = Api()
