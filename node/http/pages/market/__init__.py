"""Pages of the marketplace: offers and demands, bids, agreements, evaluations."""
