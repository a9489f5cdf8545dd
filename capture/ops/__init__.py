"""Running it: the health endpoint, access-log redaction and serving the built site. Wired in by
wiring.init_app.
"""
