"""Remote requests: the SSRF guard, signed fetches, and the lean delivery poster."""
