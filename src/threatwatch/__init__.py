"""threatwatch: a self-hosted monitor of public posts for threats and sentiment toward watched targets."""

__version__ = "0.1.0"
