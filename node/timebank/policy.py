"""The node's time-bank policy (settings ``ASASAP_TIMEBANK_*``) and amounts of hours.

Amounts are stored as integers in hundredths of an hour; people type and read hours with at most two
decimals (``1,5``, ``2.25 h``). A person's balance stays between the node's minimum and maximum; the
community account has no limit (it issues starting credits and grants, so it runs negative); the
clearing account of a peer stays within the peer's cap either way (the cap set by the admins, else the
default).

Only cooperative nodes keep a ledger (``ASASAP_MODE=cooperative``). A market node refuses every
time-bank request with :data:`MSG_NO_TIMEBANK`, and answers another node's transfer with a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from node.core.errors import N_, Conflict, ValidationFailed
from node.market.money import TOKENS_TOTAL_MAX, format_amount, parse_amount
from node.settings import Mode, Settings

CENT = Decimal("0.01")
TRANSFER_MAX = TOKENS_TOTAL_MAX  # hours: no single transfer moves more (the largest agreement's price)

MSG_NO_TIMEBANK = N_("This node keeps no time bank: it is a market node, where prices are in euros.")
MSG_AMOUNT_TOO_LARGE = N_("At most 200 hours in one transfer.")


class AccountKind(StrEnum):
    PERSON = "person"
    COMMUNITY = "community"
    CLEARING = "clearing"


def to_hundredths(hours: Decimal) -> int:
    """Hours as stored (exact: callers pass two decimals at most)."""
    return int((hours * 100).to_integral_value(rounding=ROUND_HALF_UP))


def to_hours(hundredths: int) -> Decimal:
    """Stored hundredths as hours with two decimals."""
    return (Decimal(hundredths) / 100).quantize(CENT)


def hours_text(hundredths: int, lang: str) -> str:
    """``-1,50 h`` (fr) or ``-1.50 h`` (en); the sign is a true minus for display."""
    text = format_amount(to_hours(hundredths), lang)
    return text.replace("-", "\u2212") + "\u00a0h"


def amount_from_text(text: str, *, field: str = "amount") -> int:
    """A positive amount of hours someone typed, bounded, in hundredths."""
    value = parse_amount(text, field=field)
    return checked_amount(value, field=field)


def checked_amount(value: Decimal, *, field: str = "amount") -> int:
    """``value`` hours as hundredths if it can be transferred: above zero, two decimals, not absurd."""
    if not value.is_finite():
        raise ValidationFailed(N_("Enter a number of hours."), fields={field: N_("Enter a number of hours.")})
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        message = N_("Use at most two decimals.")
        raise ValidationFailed(message, fields={field: message})
    if value <= 0:
        message = N_("The amount must be greater than zero.")
        raise ValidationFailed(message, fields={field: message})
    if value > TRANSFER_MAX:
        raise ValidationFailed(MSG_AMOUNT_TOO_LARGE, fields={field: MSG_AMOUNT_TOO_LARGE})
    return to_hundredths(value)


@dataclass(frozen=True)
class Policy:
    """What a node's settings say about its time bank, in hundredths of an hour."""

    enabled: bool
    starting_credit: int
    min_balance: int
    max_balance: int
    peer_cap: int
    late_cancellation_fee: int
    near_limit: int
    retry: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            enabled=settings.mode is Mode.COOPERATIVE,
            starting_credit=to_hundredths(settings.timebank_starting_credit),
            min_balance=to_hundredths(settings.timebank_min_balance),
            max_balance=to_hundredths(settings.timebank_max_balance),
            peer_cap=to_hundredths(settings.timebank_peer_cap),
            late_cancellation_fee=to_hundredths(settings.timebank_late_cancellation_fee),
            near_limit=to_hundredths(settings.timebank_near_limit),
            retry=timedelta(seconds=settings.timebank_retry_seconds),
        )

    def require(self) -> None:
        """Refuse clearly on a node that keeps no time bank."""
        if not self.enabled:
            raise Conflict(MSG_NO_TIMEBANK)

    def floor(self, kind: str, cap: int | None) -> int | None:
        """The lowest balance an account of ``kind`` may reach (None: no limit)."""
        if kind == AccountKind.PERSON:
            return self.min_balance
        if kind == AccountKind.CLEARING:
            return -(self.peer_cap if cap is None else cap)
        return None

    def ceiling(self, kind: str, cap: int | None) -> int | None:
        """The highest balance an account of ``kind`` may reach (None: no limit)."""
        if kind == AccountKind.PERSON:
            return self.max_balance
        if kind == AccountKind.CLEARING:
            return self.peer_cap if cap is None else cap
        return None

    def near_a_limit(self, balance: int) -> bool:
        """Whether a person's balance is within the margin of the minimum or the maximum."""
        return balance <= self.min_balance + self.near_limit or balance >= self.max_balance - self.near_limit
