"""Numbered revisions: 0001 is Strongroom 0.1's schema, each later one a step from the one before."""
