"""Provider clients: one module a provider, behind one interface (`base.Provider`).

registry (type → client class; make_provider) · base (the interface and `Capabilities`) · cliqtel,
clickatell, clicksend (the clients) · errors (HTTP replies → the error taxonomy) · http (one
keep-alive session, bounded calls, secrets masked) · webhooks (signature and body helpers) · pages
(paginated lists).
"""
