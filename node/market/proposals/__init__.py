"""Offers and demands: posting, changing, withdrawing, expiring, and their federation."""
