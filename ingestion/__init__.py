"""The web-traffic API consumer: the deployable unit of the API image (core + adapters)."""
