"""OAuth 2.0 for the vendors: one implementation (`base.py`), vendor quirks live in services/vendors/."""

from services.connect.oauth.base import (
    ConsentRevoked,
    Endpoints,
    OAuth2Implementation,
    OAuthError,
    TokenSet,
    pkce_challenge,
    pkce_verifier,
)

__all__ = [
    "ConsentRevoked",
    "Endpoints",
    "OAuth2Implementation",
    "OAuthError",
    "TokenSet",
    "pkce_challenge",
    "pkce_verifier",
]
