"""``GET /v1/keys`` and ``DELETE /v1/keys/{key_id}``: list and revoke API keys (scope ``admin``).

Keys are created with ``koc keys create`` (the secret is printed once, on the
machine that holds the store). A revoke here takes effect at once in this
process: the verified-key cache is cleared.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.http.deps import StoreDep, WritableDep
from api.http.errors import ERROR_RESPONSES, error_responses
from api.http.schemas.keys import KeyPublic, KeysPublic
from api.http.security import AdminKey
from api.services.keys import list_keys, revoke_key

__all__ = ["router"]

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", response_model=KeysPublic, summary="List API keys (no secrets)")
def get_keys(
    store: StoreDep,
    key: AdminKey,
    active: Annotated[bool, Query(description="Only keys not revoked.")] = False,
) -> dict[str, Any]:
    """Every key's id, name, scopes and dates, oldest first; never a secret."""
    keys = [k.to_dict() for k in list_keys(store, include_revoked=not active)]
    return {"data": keys, "count": len(keys)}


@router.delete(
    "/{key_id}",
    response_model=KeyPublic,
    summary="Revoke an API key",
    responses={**ERROR_RESPONSES, **error_responses(404, 503)},
)
def delete_key(
    request: Request,
    store: StoreDep,
    key: AdminKey,
    writable: WritableDep,
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{8}$", description="8 hex characters.")],
) -> dict[str, Any]:
    """Revokes the key (idempotent: revoking it again changes nothing). Requests with
    it answer 401 from now on in this server; unknown id: 404."""
    revoked = revoke_key(store, key_id)
    request.app.state.key_cache.clear()
    return revoked.to_dict()
