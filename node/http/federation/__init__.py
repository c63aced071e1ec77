"""ActivityPub endpoints: the inbox, actors and their collections, discovery, the JSON of local objects."""
