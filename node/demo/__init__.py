"""The demo: a small federation of three nodes with people, offers, demands and one evaluated agreement."""
