"""The images jobs run in: the job image built offline and cached by content hash, its base,
its debugpy variant, the wheelhouse, and the inventory of what mlmax made in the engine."""
