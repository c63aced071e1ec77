"""Research figures: anonymised monthly indicators per node, protected against re-identification
(small cells suppressed, secondary suppression), exported with their data dictionary, published signed
for other nodes' researchers, and collected into one market-versus-cooperative comparison."""
