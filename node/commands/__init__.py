"""Subcommands of ``asasap``; each module adds its own to the parser."""

from __future__ import annotations

from node.commands import federation, setup, users, worker
from node.commands.base import SubParsers
from node.demo import command as demo


def register_all(sub: SubParsers) -> None:
    setup.register(sub)
    users.register(sub)
    demo.register(sub)
    federation.register(sub)
    worker.register(sub)
