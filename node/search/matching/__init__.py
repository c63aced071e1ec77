"""Matching: ranking who could answer a new proposal (:mod:`.scoring`, :mod:`.candidates`), telling them
(:mod:`.alerts`, :mod:`.jobs`) and the suggestions a person sees (:mod:`.suggestions`)."""
