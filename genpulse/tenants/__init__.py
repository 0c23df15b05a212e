"""Tenants, API keys, pricing and credits (docs/tenants.md)."""
