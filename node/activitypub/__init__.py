"""The ActivityPub protocol, importing no domain package: addressing, typed vocabulary, actors, keys,
discovery, signatures, transport, inbox, outbox, social graph, moderation."""
