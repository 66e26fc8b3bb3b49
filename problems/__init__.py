"""Problem families: seeded generators of related instances (same structure, new data)."""
