"""The HTTP layer: thin routers over backend.services and backend.repositories."""
