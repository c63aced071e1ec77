"""The web layer, the only package that imports Starlette: pages, the JSON API, the ActivityPub endpoints."""
