"""The search's availability filter (``weekday`` = day of the week, ``time_of_day`` = morning, afternoon
or evening): whether a proposal's schedule falls on that day and in that part of the day. A proposal
without a schedule (to be agreed) does not answer a question about when: the filter leaves it out.

How a schedule is read lives in :mod:`node.market.availability`, with the bit mask the marketplace stores
on each proposal (``proposals.slots``): the marketplace writes that column and does not import the
search. This module is the search's name for it."""

from __future__ import annotations

from node.market.availability import PARTS, Part, bits, fits, mask, schedule_mask, slot, slots

__all__ = ["PARTS", "Part", "bits", "fits", "mask", "schedule_mask", "slot", "slots"]
