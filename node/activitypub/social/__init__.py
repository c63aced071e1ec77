"""The social graph: people and nodes following each other across servers, relays, and who receives
what a node publishes."""
