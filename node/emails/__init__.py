"""Notifications that leave the site: by e-mail (each person's choices per topic, at once or in a daily
digest, signed unsubscribe links) and by Web Push (each person's browsers)."""
