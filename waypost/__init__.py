"""waypost: self-hosted webhook delivery for logistics platforms."""

__version__ = "0.1.0"
