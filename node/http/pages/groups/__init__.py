"""Pages of the micro-organisations: the directory and search, a group's profile (also its ``Group``
document), joining and leaving, members and roles with the legal checklist, colleges, rules, the shared
calendar, the group's work in the marketplace, the creation wizard and the printable constitution."""
