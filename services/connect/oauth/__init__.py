"""OAuth 2.0 for the vendors: one implementation on requests-oauthlib (`base.py`); vendor quirks live
in services/vendors/ as compliance hooks."""

from services.connect.oauth.base import (
    AuthorizeRequest,
    ConsentRevoked,
    Endpoints,
    OAuth2Implementation,
    OAuthError,
    TokenSet,
)

__all__ = [
    "AuthorizeRequest",
    "ConsentRevoked",
    "Endpoints",
    "OAuth2Implementation",
    "OAuthError",
    "TokenSet",
]
