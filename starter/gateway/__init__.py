"""The HTTP gateway: intake systems open cases, engineers act on them, requesters see their own.

`starter.gateway.app.create_app()` builds the FastAPI application;
`supportflow gateway` serves it (`starter.gateway.serve`). Every route is a
thin Temporal client: it validates fully, then starts, updates, signals or
queries `SupportCase` workflows. Nothing is imported here, so the CLI stays
quick to start.
"""
