"""Actors: ours (URL layout and documents) and other servers' (the cache of remote actors and keys)."""
