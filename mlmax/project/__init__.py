"""A project's jobs: their declarations in pyproject.toml and the catalogue."""
