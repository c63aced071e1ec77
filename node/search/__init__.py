"""Search: full-text search over local and federated proposals (SQLite FTS5 or PostgreSQL tsvector, behind
one interface), filters by place, distance, dates, price and reputation, and saved searches that alert
their owner when a new proposal matches."""
