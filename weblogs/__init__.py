"""weblogs: the pure core (event contract, transformation) and the CLI."""
