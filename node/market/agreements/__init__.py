"""Agreements: from the accepted bid to completion or cancellation, held by one node, mirrored by the
other."""
