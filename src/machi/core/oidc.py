"""OpenID Connect sign-in for municipalities with their own identity provider.

Enabled by ``MACHI_OIDC_ENABLED``; only staff already registered in Machi can sign in this way
(matched by e-mail), and their roles still come from Machi's memberships.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from machi.core.models import User


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """Maps the provider's verified e-mail claim to an existing, active staff account."""

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet[User]:
        email = claims.get("email")
        if not email or claims.get("email_verified") is False:
            return User.objects.none()
        return User.objects.filter(email__iexact=email, is_active=True, is_staff=True)

    def create_user(self, claims: dict[str, Any]) -> User | None:
        # Accounts are provisioned by a municipality admin, never by the identity provider.
        return None
