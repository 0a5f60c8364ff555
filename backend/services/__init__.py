"""Use cases behind the API and the CLI: validation, orchestration, enqueueing."""
