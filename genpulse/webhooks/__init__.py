"""Webhooks: signing (Standard Webhooks), URL guard, delivery from the store's outbox, the per-task log."""
