"""Real-time endpoints in Local Mode: deploy, invoke, serve until stopped."""
