"""Places: the offline gazetteer of French communes and distances between them."""
