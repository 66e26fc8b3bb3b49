"""Adapters, one per user format: each maps the user's object to a canonical form and
writes solutions back. Adapters never import a backend or a model."""
