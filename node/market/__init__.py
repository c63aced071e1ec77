"""The marketplace: offers and demands, bids, agreements, evaluations, notifications."""
