"""What in-process tests do not pay again and again: a password hash at argon2's lowest cost, new actor
keys generated ahead, and what every app built for a test would otherwise redo (compile the translation
catalogs and the templates it renders, read the migrations for their head revision).

A node hashes passwords with argon2id at the library's parameters (64 MiB and three passes: a fraction
of a second each, the point of it); nearly every test creates people and logs them in, which made argon2
the largest cost of the suite. The cheap hasher is still argon2id, and a hash carries its parameters, so
a node process verifies the cheap hashes of people created here. Tests that check the hashing itself use
the ``production_password_hashing`` fixture. A new RSA-2048 key pair costs a tenth of a second or more;
the actor keys a node generates in a test come from the 32 key pairs of ``tests/data/rsa-2048-keys.pem``
in turn (a test never sees one twice unless it generates more than 32). None of this is reachable from
a node: only the tests install it (:func:`cheap_costs`, for the whole test session).
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket

from node.accounts import passwords
from node.activitypub import keys
from node.core import db
from node.core.i18n import Catalogs
from node.http import application
from tests.support.data import DATA

# The lowest cost argon2 accepts (8 KiB, one pass, one lane): microseconds instead of a fraction of a second.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_PRODUCTION_HASHER = passwords._hasher


class _SharedCatalogs(Catalogs):
    """:class:`Catalogs` whose ``load`` compiles a directory once per test process (the apps built
    for tests all load the shipped catalogs, and a catalog is never changed once loaded)."""

    _loaded: dict[Path, Catalogs] = {}

    @classmethod
    def load(cls, directory: Path) -> Catalogs:
        if directory not in cls._loaded:
            cls._loaded[directory] = Catalogs.load(directory)
        return cls._loaded[directory]


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory for every app of the test process. Jinja keys them by the
    template's name and file and checks the source's checksum, so a changed template is compiled again."""

    def __init__(self) -> None:
        self._codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._codes[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _MemoryBytecodeCache()


class _SharedBytecodeEnvironment(Environment):
    """The pages' Jinja environment, with the shared compiled templates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("bytecode_cache", _BYTECODE)
        super().__init__(*args, **kwargs)


KEYS = DATA / "rsa-2048-keys.pem"


def _pooled_keys() -> Iterator[rsa.RSAPrivateKey]:
    """The key pairs of :data:`KEYS`, read as they are first needed, in turn for ever."""
    marker = b"-----END PRIVATE KEY-----"
    loaded: list[rsa.RSAPrivateKey] = []
    for block in KEYS.read_bytes().split(marker)[:-1]:
        key = serialization.load_pem_private_key(block.strip() + b"\n" + marker + b"\n", password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        loaded.append(key)
        yield key
    yield from itertools.cycle(loaded)


class _PooledRsa:
    """The ``rsa`` module as :mod:`node.activitypub.keys` sees it, but its new RSA-2048 keys come from
    :data:`KEYS`."""

    def __init__(self) -> None:
        self._pool = _pooled_keys()
        self._lock = threading.Lock()  # the demo makes its nodes' accounts in threads side by side

    def __getattr__(self, name: str) -> Any:
        return getattr(rsa, name)

    def generate_private_key(self, public_exponent: int, key_size: int) -> rsa.RSAPrivateKey:
        if (public_exponent, key_size) == (65537, 2048):
            with self._lock:  # a generator is not to be advanced by two threads at once
                return next(self._pool)
        return rsa.generate_private_key(public_exponent=public_exponent, key_size=key_size)


@contextmanager
def cheap_costs() -> Iterator[None]:
    """Install the cheap password hasher, the pooled keys and the shared catalogs, templates and head
    revision for as long as the context lasts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)
        patch.setattr(keys, "rsa", _PooledRsa())
        patch.setattr(application, "Catalogs", _SharedCatalogs)
        patch.setattr(application, "Environment", _SharedBytecodeEnvironment)
        # The migrations do not change while the tests run: read them once for their head.
        patch.setattr(db, "head_revision", functools.cache(db.head_revision))
        yield


# Named ``*_fixture``, so that test modules import it and use it by name.
@pytest.fixture(name="production_password_hashing")
def production_password_hashing_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's own password hasher (argon2's default parameters) for this test."""
    monkeypatch.setattr(passwords, "_hasher", _PRODUCTION_HASHER)
