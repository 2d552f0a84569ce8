"""Measuring Frontdoor on evaluation packs: the same retrieval the service uses, in an isolated store."""
