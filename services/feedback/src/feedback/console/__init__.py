"""The support console: a server-rendered page where agents work the case queue.

`feedback.console.routes.build_console` makes its routes; `feedback.console.agents` reads the agents
file and hashes passwords (`python -m feedback.console.agents hash`)."""

__all__: list[str] = []
