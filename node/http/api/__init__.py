"""The JSON API: its declarative framework, schemas and OpenAPI document."""
