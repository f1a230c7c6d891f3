"""`Authorization: Bearer KEY` on every endpoint; the key names the user who acts."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.service import KnowledgeService
from store.records import UserInfo

_bearer = HTTPBearer(auto_error=False, description="An API key from `kb keys create`.")


def get_service(request: Request) -> KnowledgeService:
    service: KnowledgeService = request.app.state.service
    return service


def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> UserInfo:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "Missing API key: send `Authorization: Bearer KEY` (see `kb keys create`).", challenge)
    user = get_service(request).user_for_key(credentials.credentials)
    if user is None:
        raise HTTPException(401, "Invalid or revoked API key.", challenge)
    return user


User = Annotated[UserInfo, Depends(current_user)]
Service = Annotated[KnowledgeService, Depends(get_service)]
