"""The version opitios reports (health, metrics, the OpenAPI description), and setup.cfg installs it as."""

__version__ = "0.1.0"
