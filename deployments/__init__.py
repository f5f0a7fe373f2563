"""The Prefect deployments of the service: ``serve.py`` runs them locally, ``prefect.yaml`` ships them."""
