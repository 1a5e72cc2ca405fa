"""The dashboard and HTTP API the daemon serves on its own listener (`[api]` in the config).

`server` (the application: auth, errors, routes), `auth` (token, sessions, CSRF), `api` (JSON
routes), `openapi` (their document), `idempotency` (Idempotency-Key), `uploads` (the multipart
form), `pages` (the HTML pages), `balance` (the account's balance, cached), `templates/` and
`static/` (package data).
"""
