"""One run's lifecycle in Local Mode: a job in its container, what a series of runs shares, a
job under a debugger, and the reaper of what dead sessions left."""
