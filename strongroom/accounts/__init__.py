"""Accounts of the web service: users with one role each, their API tokens, sessions and sign-in attempts.

The library (service.py) is shared by `strongroom user ...` and the web service; the catalog keeps
the rows (catalog/accounts_base.py). Accounts are operational state, not archive content: `rebuild`
leaves them alone, and every change to them is journalled for audit.
"""
