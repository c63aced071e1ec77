"""Conversations and moderation: messages between people (on this node or across the fediverse, as
``Note``s addressed to the participants only), blocks between people, and reports with the
coordinators' queue (Mastodon-compatible ``Flag``s both ways)."""
