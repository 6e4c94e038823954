"""What every layer shares: the error root, tables, waits, progress, signals."""
