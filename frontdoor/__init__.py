"""Frontdoor's composition root: settings and the `frontdoor` command."""
