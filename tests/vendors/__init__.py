"""Local HTTP imitations of vendor APIs, built from their documented shapes (../shared/docs/providers.md)."""
