"""Telemanagement on the pages: coordinators' planning, providers' day and the homes' QR codes."""
