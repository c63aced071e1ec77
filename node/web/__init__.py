"""HTTP handlers and pages rendered on the server."""
