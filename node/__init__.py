"""ASASAP node: a federated platform for services à la personne."""
