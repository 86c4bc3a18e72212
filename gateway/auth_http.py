"""Authentication over HTTP: login, logout, password change, the OAuth2 token endpoint, and
the guard in front of ``/graphql`` that names the caller and applies rate limits.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from accounts.auth import Authenticator, AuthError, InvalidClient, InvalidToken
from accounts.tokens import TokenStoreUnavailable
from gateway.http import refusal as graphql_refusal
from gateway.observability import request_id
from gateway.ratelimit import RateLimiter
from policies.principal import Principal, caller
from standard.errors import InputError

MAX_BODY = 16_384


class MalformedAuthRequest(InputError):
    """A sign-in or token request whose body is not the JSON object it must be."""


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; None without a header."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Authorization 须为 Bearer 令牌 / use 'Authorization: Bearer <token>'")
    return token.strip()


def _refused(exc: AuthError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
    return JSONResponse(
        {"error": exc.code, "message": exc.message}, status_code=exc.status, headers=headers
    )


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "message": message}, status_code=400)


async def _json(request: Request, *fields: str) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise MalformedAuthRequest("the body is too large")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedAuthRequest("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise MalformedAuthRequest("the body must be a JSON object")
    for name in fields:
        if not isinstance(data.get(name), str) or not data[name]:
            raise MalformedAuthRequest(f"'{name}' is required (a string)")
    return data


def _request_id(request: Request) -> str | None:
    value = request_id.get()
    return None if value == "-" else value


def _session(login: Any) -> dict[str, Any]:
    return {
        "accessToken": login.issued.token,
        "tokenType": "Bearer",
        "expiresAt": login.issued.expires_at.isoformat(),
        "passwordChangeRequired": login.principal.password_change_required,
    }


def routes(auth: Authenticator, limiter: RateLimiter, rate: str) -> list[Route]:
    """``/auth/login``, ``/auth/logout``, ``/auth/password`` and ``/oauth/token``; each limited
    per client address, so guessing passwords or secrets across accounts is slow too."""

    def handler(
        run: Callable[[Request], Any],
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            decision = await limiter.hit(f"auth:{_client(request)}", rate, count=False)
            if not decision.allowed:
                return JSONResponse(
                    {"error": "slow_down", "message": f"too many attempts: the limit is {rate}"},
                    status_code=429,
                    headers={"Retry-After": str(decision.retry_after)},
                )
            try:
                response: Response = await run(request)
            except MalformedAuthRequest as exc:
                return _bad(str(exc))
            except AuthError as exc:
                return _refused(exc)
            except TokenStoreUnavailable:
                return JSONResponse(
                    {"error": "temporarily_unavailable", "message": "session store unavailable"},
                    status_code=503,
                )
            return response

        return endpoint

    async def login(request: Request) -> Response:
        data = await _json(request, "username", "password")
        totp = data.get("totp")
        found = await auth.login(
            data["username"],
            data["password"],
            totp if isinstance(totp, str) else None,
            request_id=_request_id(request),
        )
        return JSONResponse(_session(found), headers={"Cache-Control": "no-store"})

    async def logout(request: Request) -> Response:
        token = bearer(request.headers.get("authorization"))
        if token is None:
            raise InvalidToken
        principal = await auth.principal(token)
        await auth.logout(token, principal, request_id=_request_id(request))
        return Response(status_code=204)

    async def password(request: Request) -> Response:
        token = bearer(request.headers.get("authorization"))
        if token is None:
            raise InvalidToken
        principal = await auth.principal(token)
        data = await _json(request, "currentPassword", "newPassword")
        found = await auth.change_password(
            principal, data["currentPassword"], data["newPassword"], request_id=_request_id(request)
        )
        return JSONResponse(_session(found), headers={"Cache-Control": "no-store"})

    async def token(request: Request) -> Response:
        # RFC 6749 §4.4: a form body; client credentials in HTTP Basic or in the body.
        body = await request.body()
        if len(body) > MAX_BODY:
            raise MalformedAuthRequest("the body is too large")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "message": "use client_credentials"},
                status_code=400,
            )
        client_id, secret = _basic(request.headers.get("authorization"))
        client_id = client_id or form.get("client_id")
        secret = secret or form.get("client_secret")
        if not client_id or not secret:
            raise InvalidClient
        found = await auth.client_token(client_id, secret, request_id=_request_id(request))
        lifetime = int(auth.settings.token_minutes * 60)
        return JSONResponse(
            {"access_token": found.issued.token, "token_type": "Bearer", "expires_in": lifetime},
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route("/auth/login", handler(login), methods=["POST"]),
        Route("/auth/logout", handler(logout), methods=["POST"]),
        Route("/auth/password", handler(password), methods=["POST"]),
        Route("/oauth/token", handler(token), methods=["POST"]),
    ]


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient from None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


class Guard:
    """ASGI wrapper of ``/graphql``: who is calling, whether they may call now."""

    def __init__(
        self, app: ASGIApp, auth: Authenticator, limiter: RateLimiter, default_rate: str
    ) -> None:
        self.app = app
        self.auth = auth
        self.limiter = limiter
        self.default_rate = default_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        refusal = None
        try:
            principal = await self.auth.principal(bearer(request.headers.get("authorization")))
        except AuthError as exc:
            refusal = _refuse(
                request,
                401,
                "UNAUTHENTICATED",
                exc.message,
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        except TokenStoreUnavailable:
            refusal = _refuse(request, 503, "UNAVAILABLE", "The session store is unavailable.", {})
        if refusal is None and principal.password_change_required:
            refusal = _refuse(
                request,
                403,
                "PASSWORD_CHANGE_REQUIRED",
                "密码已过期或须首次修改，请先修改密码 / change your password first "
                "(POST /auth/password)",
                {},
            )
        if refusal is None:
            refusal = await self._limit(request, principal)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        token = caller.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            caller.reset(token)

    async def _limit(self, request: Request, principal: Principal) -> Response | None:
        who = principal.id if principal.kind != "public" else f"ip:{_client(request)}"
        rate = principal.rate_limit or self.default_rate
        decision = await self.limiter.hit(who, rate, count=False)
        if decision.allowed:
            return None
        return _refuse(
            request,
            429,
            "RATE_LIMITED",
            f"请求过于频繁 / too many requests: the limit is {rate}",
            {"Retry-After": str(decision.retry_after)},
        )


def _refuse(
    request: Request, status: int, code: str, message: str, headers: dict[str, str]
) -> Response:
    return graphql_refusal(request.headers.get("accept"), status, code, message, headers=headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
