"""The rewards domain: pure rules, no I/O, no framework. Each module reads as the business says it."""
