"""The pytest plugin: `--smlocal`, `--inspectlocal`, Debug Test, `--test-at` and the fixtures."""
