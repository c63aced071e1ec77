"""Notifications by e-mail: each person's choices per topic, the e-mails at once and the daily digest."""
