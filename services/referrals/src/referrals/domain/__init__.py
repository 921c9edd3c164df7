"""Pure rules of the referrals service: no I/O, no framework."""
