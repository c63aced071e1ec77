"""Accounts: people, roles, profiles, sessions, API tokens, invitations."""
