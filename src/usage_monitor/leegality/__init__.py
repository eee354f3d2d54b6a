"""Talking to SignStation: the HTTP client, the usage-body parser, the secret's shapes, OAuth2 minting,
one run's credentials, TLS trust and the request throttle.

May import `core`, `settings`, `observability`. Never imports alert rules, messages, storage or the run.
"""
