"""Pure rules of the feedback service: no I/O, no framework."""
