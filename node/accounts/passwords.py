"""Password hashing (argon2id) and the password strength rules."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from node.core.errors import N_

MIN_LENGTH = 10
MAX_LENGTH = 256

# A short list of the passwords most often tried first; the length rule already removes most others.
_COMMON = frozenset(
    """
    1234567890 0123456789 12345678910 1234567890a azertyuiop azertyuiop1 qwertyuiop qwertyuiop1
    motdepasse motdepasse1 motdepasse123 password12 password123 password1234 passwordpassword
    iloveyou12 jetaime123 soleil1234 bonjour123 marseille13 doudou1234 loulou1234 0000000000
    1111111111 aaaaaaaaaa abcdefghij abcdef1234 abc1234567 qwerty1234 azerty1234 azertyuiop123
    123456789a a123456789 football12 princesse1 chocolat12 welcome123 letmein123 administrator
    """.split()
)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with the library's current parameters."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; never raises on a bad hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problem(password: str, *, username: str = "", email: str | None = None) -> str | None:
    """What makes ``password`` too weak, as a message id, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return N_("The password must have at least 10 characters.")
    if len(password) > MAX_LENGTH:
        return N_("The password must have at most 256 characters.")
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        return N_("This password is too easy to guess.")
    if username and username.lower() in lowered:
        return N_("The password must not contain the username.")
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) >= 4:
        return N_("The password must not contain the email address.")
    return None


# A hash of a random password, verified against when the account does not exist so that the answer
# takes the same time either way.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$0GugnIyUT7ae2Bq3dBt9n8wXvYyE9f6H8b7TyJ1qYgQ"
)
