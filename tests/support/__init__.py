"""Helpers shared by several test modules (no tests here): test modules import from here, never from each other."""
