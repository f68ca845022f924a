"""OAuth 2.0 for the vendors: one implementation on requests-oauthlib (`base.py`); vendor quirks live
in services/vendors/ as compliance hooks.

Import from the modules (`services.connect.oauth.base`, `.states`): this package imports nothing,
so the start-up path that only needs `states` (pending-consent bookkeeping) does not load requests
and oauthlib (issue 15).
"""
