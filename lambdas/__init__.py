"""AWS Lambda handlers: thin adapters over the weblogs core."""
