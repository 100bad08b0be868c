"""The web-traffic API consumer and its simulator."""
