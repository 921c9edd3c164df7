"""Pure rules of the outreach service: no I/O, no framework."""
