"""Providers: the contract (``provider``, ``cloud``), vendor plumbing (``http``, ``request_signing``,
``vendor_runner``, ``ratelimit``), the vendors (``vendors/``) and the registry that knows them all.

Import the module you need (``genpulse.providers.registry``...): this package imports nothing, so any of its
modules can be the first one a process imports.
"""
