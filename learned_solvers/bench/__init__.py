"""The project's benchmark: cold vs learned vs nearest-neighbour vs oracle starts."""
