"""Telemanagement ("télégestion"): funders, beneficiaries and their care plans, visits planned one-off or
recurring, clocked at the door with the home's QR code, checked for anomalies against the plan."""
