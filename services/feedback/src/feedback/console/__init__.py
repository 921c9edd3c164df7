"""The support console: a server-rendered page where agents work the case queue.

`feedback.console.routes.router` holds its routes; `feedback.console.access` the agents and the
session signer they use, built with the app; `feedback.console.agents` reads the agents file and
hashes passwords (`python -m feedback.console.agents hash`)."""

__all__: list[str] = []
