"""Micro-organisations: cooperative groups of providers, with members on any node (FEP-1b12 ``Group``
actors), their roles and categories of associates, their rules and shared work, and the checks of the
legal shape they aim at (SCIC, CAE, SCOP, association, informal collective)."""
