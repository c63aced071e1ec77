"""Evaluations: double-blind ratings of each other after a service, and reputations."""
