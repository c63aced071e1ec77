"""Bids and answers to proposals, sealed: placing, withdrawing, choosing."""
