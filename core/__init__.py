"""The domain of changelogs, free of Prefect and FastAPI."""
