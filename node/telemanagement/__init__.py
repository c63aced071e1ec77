"""Telemanagement (télégestion): visits, clocking, statements; arrives with its own issue."""
