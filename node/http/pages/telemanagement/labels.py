"""The words the telemanagement pages show for codes (translated where they are shown)."""

from __future__ import annotations

from node.core.errors import N_

FUNDER_KINDS = {
    "apa": N_("APA (Conseil départemental)"),
    "pch": N_("PCH (Conseil départemental)"),
    "pension": N_("Pension fund"),
    "mutual": N_("Mutual insurer"),
    "insurer": N_("Insurer"),
    "private": N_("Private (the beneficiary pays)"),
}
BILLING = {"direct": N_("Invoiced directly"), "beneficiary": N_("Through the beneficiary")}
STATES = {
    "planned": N_("Planned"),
    "in_progress": N_("Under way"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
CANCEL_REASONS = {
    "beneficiary_absent": N_("Beneficiary absent"),
    "beneficiary_hospitalised": N_("Beneficiary in hospital"),
    "beneficiary_cancelled": N_("Cancelled by the beneficiary"),
    "provider_absent": N_("Provider absent"),
    "funder_stopped": N_("Funding stopped"),
    "other": N_("Other reason (say which)"),
}
MANUAL_REASONS = {
    "qr_missing": N_("The QR code is missing"),
    "qr_damaged": N_("The QR code is damaged"),
    "camera_broken": N_("My camera does not work"),
    "no_network": N_("No network at the door"),
    "other": N_("Other reason"),
}
ANOMALIES = {
    "late": N_("Late check-in"),
    "missing_check_in": N_("No check-in"),
    "missing_check_out": N_("No check-out"),
    "too_short": N_("Too short"),
    "outside_slot": N_("Clocked outside the slot"),
    "manual": N_("Clocked by hand"),
    "out_of_area": N_("Clocked away from the home's commune"),
}
ALL = {
    "funder_kinds": FUNDER_KINDS,
    "billing_modes": BILLING,
    "visit_states": STATES,
    "cancel_reasons": CANCEL_REASONS,
    "manual_reasons": MANUAL_REASONS,
    "anomaly_kinds": ANOMALIES,
}
