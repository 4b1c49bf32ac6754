"""The web service: a REST API under /api/v1 and GOV.UK-styled pages over the same library calls.

`create_app(home)` (app.py) builds one ASGI application per archive home; `strongroom serve` runs it
with uvicorn. Every route declares the one permission it needs (permissions.py); the role x route
table is tested exhaustively (tests/web/test_permissions.py).
"""
