"""Matching: ranking who could answer a new proposal (:mod:`.scoring`, :mod:`.candidates`), telling them
(:mod:`.alerts`, run by the job :class:`node.search.jobs.MatchAlerts`) and the suggestions a person sees
(:mod:`.suggestions`)."""
