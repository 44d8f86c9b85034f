"""Signing keys and revocations as the gateway sees them: JWKS, rotation on demand, the denylist."""

from __future__ import annotations

import time

import orjson
from cityos.identity.v1 import identity_pb2 as pb

from cityos_identity import signing
from cityos_identity.caller import Caller
from cityos_identity.keyring import Keyring
from cityos_identity.stores import Stores


class KeyUseCases:
    """GetJwks and ListRevokedTokens are open to the gateway; rotation is for platform admins."""

    def __init__(self, stores: Stores, keyring: Keyring) -> None:
        self._s = stores
        self._keyring = keyring

    async def jwks(self, _caller: Caller, _request: pb.GetJwksRequest) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks=orjson.dumps(await self._keyring.jwks()))

    async def rotate(
        self, caller: Caller, _request: pb.RotateSigningKeyRequest
    ) -> pb.RotateSigningKeyResponse:
        caller.require_platform_admin()
        kid = await self._keyring.rotate_if_due(force=True)
        snapshot = await self._keyring.snapshot(fresh=True)
        return pb.RotateSigningKeyResponse(
            kid=kid or snapshot.current.kid,
            retained_kids=[
                r.kid
                for r in signing.published(snapshot.published, int(time.time()))
                if r.kid != snapshot.current.kid
            ],
        )

    async def revoked(
        self, _caller: Caller, request: pb.ListRevokedTokensRequest
    ) -> pb.ListRevokedTokensResponse:
        as_of = int(time.time())
        tokens = await self._s.tokens.revoked_since(request.since)
        return pb.ListRevokedTokensResponse(
            tokens=[pb.RevokedToken(jti=j, expires_at=e, revoked_at=a) for j, e, a in tokens], as_of=as_of
        )
