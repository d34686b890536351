"""Xero identity: authorize, token (authorization_code, refresh_token), revocation, /connections.

Refresh tokens rotate on every use. The previous token stays usable for 30 minutes only when the
response of its rotation was never received, which the emulator recognises as "its successor has never
been used": reusing it then returns a fresh token set (and retires the unseen successor). Once the
successor has been used, or after 30 minutes, the old token is `invalid_grant` -- which is also what
two processes refreshing the same token set run into. A refresh token unused for 60 days expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Flask, Response, redirect, request

from local.emulators.common import Clock, json_response

from .config import XeroConfig
from .errors import problem
from .store import AccessToken, AuthCode, RefreshToken, XeroStore

logger = logging.getLogger(__name__)

_JWT_SECRET = secrets.token_bytes(32)  # the emulator's tokens are opaque to clients; any key will do


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: dict) -> str:
    """A JWT-shaped token (as Xero's access tokens are), so clients that peek at claims still can."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64url(hmac.new(_JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


class TokenError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description


class IdentityService:
    def __init__(self, store: XeroStore, config: XeroConfig, clock: Clock, issuer: str) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.issuer = issuer

    # authorize ----------------------------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """(302, location) after an immediate consent, or (400, error text) for a bad client.

        A consent gives every ticked organisation's connection one new authEventId, which the token
        carries as its authentication_event_id claim, as Xero does. emulator_tenants=ID,ID ticks those
        organisations; emulator_consent=deny declines (Xero redirects back with error=access_denied).
        """
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id != self.config.client_id:
            return 400, "unauthorized_client: unknown client_id"
        if not redirect_uri:
            return 400, "invalid_request: redirect_uri is required"
        state = params.get("state")

        def back(**query: str) -> tuple[int, str]:
            if state is not None:
                query["state"] = state
            parts = urlsplit(redirect_uri)
            joined = "&".join(p for p in (parts.query, urlencode(query)) if p)
            return 302, urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        scope = params.get("scope", "").split()
        if not scope:
            return back(error="invalid_scope")
        if params.get("emulator_consent") == "deny":
            return back(error="access_denied")
        chosen = self._ticked(params.get("emulator_tenants"))
        if chosen is None:
            return back(error="invalid_request", error_description="emulator_tenants names an unknown organisation")
        now = self.clock.now()
        auth_event_id = str(uuid.uuid4())
        for tenant_id in chosen:
            self.store.connect(tenant_id, auth_event_id)
        code = AuthCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            auth_event_id=auth_event_id,
            expires_at=now + timedelta(seconds=self.config.auth_code_ttl),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method") or ("plain" if params.get("code_challenge") else None),
        )
        self.store.identity.auth_codes[code.code] = code
        return back(code=code.code, scope=" ".join(scope), session_state=secrets.token_urlsafe(16))

    def _ticked(self, wanted: str | None) -> list[str] | None:
        """The organisations the user ticks on the consent screen: emulator_tenants (comma-separated
        tenant ids, an emulator-only parameter) or, by default, every organisation it consents to."""
        if not wanted:
            return list(self.store.consent_tenants)
        ticked = [t.strip().lower() for t in wanted.split(",") if t.strip()]
        return ticked if ticked and all(t in self.store.orgs for t in ticked) else None

    # token --------------------------------------------------------------------------------------
    def _client(self, form: dict[str, str], authorization: str | None) -> tuple[str, str | None]:
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise TokenError("invalid_client") from exc
            return client_id, secret
        return form.get("client_id", ""), form.get("client_secret")

    def token(self, form: dict[str, str], authorization: str | None) -> dict:
        grant_type = form.get("grant_type", "")
        calls = self.store.identity.token_calls
        calls["total"] = calls.get("total", 0) + 1
        calls[grant_type or "none"] = calls.get(grant_type or "none", 0) + 1
        outcome = "ok"
        try:
            client_id, secret = self._client(form, authorization)
            if client_id != self.config.client_id:
                raise TokenError("invalid_client")
            if grant_type == "authorization_code":
                return self._authorization_code(form, client_id, secret)
            if secret != self.config.client_secret:
                raise TokenError("invalid_client")
            if grant_type == "refresh_token":
                return self._refresh(form, client_id)
            raise TokenError("unsupported_grant_type")
        except TokenError as exc:
            outcome = exc.error
            raise
        finally:
            self.store.identity.token_log.append(
                {"at": self.clock.now().isoformat(), "grant_type": grant_type, "outcome": outcome}
            )

    def _authorization_code(self, form: dict[str, str], client_id: str, secret: str | None) -> dict:
        code = self.store.identity.auth_codes.get(form.get("code", ""))
        now = self.clock.now()
        if code is None or code.used or code.client_id != client_id or now > code.expires_at:
            raise TokenError("invalid_grant")
        if code.redirect_uri != form.get("redirect_uri", ""):
            raise TokenError("invalid_grant")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if code.code_challenge_method == "S256":
                expected = _b64url(hashlib.sha256(verifier.encode()).digest())
            else:
                expected = verifier
            if not verifier or not hmac.compare_digest(expected, code.code_challenge):
                raise TokenError("invalid_grant")
        elif secret != self.config.client_secret:
            raise TokenError("invalid_client")
        code.used = True
        return self._issue(client_id, code.scope, code.auth_event_id)

    def _refresh(self, form: dict[str, str], client_id: str) -> dict:
        tokens = self.store.identity.refresh_tokens
        record = tokens.get(form.get("refresh_token", ""))
        now = self.clock.now()
        if record is None or record.revoked or record.client_id != client_id:
            raise TokenError("invalid_grant")
        if record.rotated_at is None:
            if now - record.issued_at > timedelta(seconds=self.config.refresh_idle_expiry):
                raise TokenError("invalid_grant")
            record.rotated_at = now
        else:
            successor = tokens.get(record.successor or "")
            unseen = successor is not None and successor.rotated_at is None and not successor.revoked
            if not unseen or now - record.rotated_at > timedelta(seconds=self.config.refresh_grace):
                raise TokenError("invalid_grant")
            # The client never got the successor: retire it, answer again with a fresh set.
            successor.revoked = True
        issued = self._issue(client_id, record.scope, record.auth_event_id)
        record.successor = issued.get("refresh_token")
        return issued

    def _issue(self, client_id: str, scope: list[str], auth_event_id: str) -> dict:
        now = self.clock.now()
        expires = now + timedelta(seconds=self.config.access_token_ttl)
        claims = {
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": self.issuer,
            "aud": f"{self.issuer}/resources",
            "client_id": client_id,
            "sub": "emulated-user",
            "auth_time": int(now.timestamp()),
            "xero_userid": "00000000-0000-0000-0000-000000000001",
            "global_session_id": auth_event_id.replace("-", ""),
            "jti": secrets.token_hex(16),
            "authentication_event_id": auth_event_id,
            "scope": scope,
        }
        access = _jwt(claims)
        self.store.identity.access_tokens[access] = AccessToken(access, client_id, scope, auth_event_id, now, expires)
        body: dict = {"access_token": access, "expires_in": self.config.access_token_ttl, "token_type": "Bearer"}
        if "openid" in scope:
            body["id_token"] = _jwt({"iss": self.issuer, "aud": client_id, "sub": "emulated-user",
                                     "exp": claims["exp"], "iat": claims["nbf"], "email": "demo@example.com"})
        if "offline_access" in scope:
            refresh = secrets.token_urlsafe(32)
            self.store.identity.refresh_tokens[refresh] = RefreshToken(refresh, client_id, scope, auth_event_id, now)
            body["refresh_token"] = refresh
        body["scope"] = " ".join(scope)
        return body

    def revoke(self, form: dict[str, str], authorization: str | None) -> None:
        client_id, secret = self._client(form, authorization)
        if client_id != self.config.client_id or secret != self.config.client_secret:
            raise TokenError("invalid_client")
        record = self.store.identity.refresh_tokens.get(form.get("token", ""))
        if record is None:
            return
        while record is not None:
            record.revoked = True
            record = self.store.identity.refresh_tokens.get(record.successor or "")
        # Revoking a refresh token removes the connections it authorised.
        self.store.identity.connections.clear()

    # bearer -------------------------------------------------------------------------------------
    def check_bearer(self, authorization: str | None) -> AccessToken | Response:
        if not authorization or not authorization.lower().startswith("bearer "):
            return json_response(problem(401, "Unauthorized", "AuthenticationUnsuccessful"), 401,
                                 {"WWW-Authenticate": "Bearer"})
        token = self.store.identity.access_tokens.get(authorization[7:].strip())
        if token is None:
            return json_response(problem(401, "Unauthorized", "AuthenticationUnsuccessful"), 401,
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.clock.now() >= token.expires_at:
            stamp = token.expires_at.strftime("%m/%d/%Y %H:%M:%S")
            return json_response(problem(401, "Unauthorized", f"TokenExpired: token expired at {stamp}"), 401,
                                 {"WWW-Authenticate": 'Bearer error="invalid_token", '
                                                      f'error_description="The token expired at \'{stamp}\'"'})
        return token


def connection_json(store: XeroStore, connection) -> dict:
    org = store.orgs[connection.tenant_id]
    return {
        "id": connection.id,
        "authEventId": connection.auth_event_id,
        "tenantId": connection.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": org.name,
        "createdDateUtc": _identity_time(connection.created),
        "updatedDateUtc": _identity_time(connection.updated),
    }


def _identity_time(value: datetime) -> str:
    """The identity spec's example: "2019-12-07T18:46:19.5165400" (UTC, 7 fractional digits, no zone)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def register_identity_routes(app: Flask, service: IdentityService, lock) -> None:
    store = service.store

    def authorize() -> Response:
        with lock:
            status, target = service.authorize(request.args.to_dict())
        if status == 302:
            return redirect(target, code=302)
        return Response(target, status=status, mimetype="text/plain")

    app.add_url_rule("/identity/connect/authorize", "xero_authorize", authorize, methods=["GET"])
    app.add_url_rule("/connect/authorize", "xero_authorize_short", authorize, methods=["GET"])

    @app.post("/connect/token")
    def xero_token() -> Response:
        with lock:
            try:
                body = service.token(request.form.to_dict(), request.headers.get("Authorization"))
            except TokenError as exc:
                error = {"error": exc.error}
                if exc.description:
                    error["error_description"] = exc.description
                return json_response(error, exc.status, {"Cache-Control": "no-store"})
        return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.post("/connect/revocation")
    def xero_revoke() -> Response:
        with lock:
            try:
                service.revoke(request.form.to_dict(), request.headers.get("Authorization"))
            except TokenError as exc:
                return json_response({"error": exc.error}, exc.status)
        return Response("", status=200)

    def list_connections() -> Response:
        with lock:
            token = service.check_bearer(request.headers.get("Authorization"))
            if isinstance(token, Response):
                return token
            wanted = request.args.get("authEventId")
            items = [connection_json(store, c) for c in store.identity.connections.values()
                     if not wanted or c.auth_event_id == wanted]
        return json_response(items)

    def delete_connection(connection_id: str) -> Response:
        with lock:
            token = service.check_bearer(request.headers.get("Authorization"))
            if isinstance(token, Response):
                return token
            if store.identity.connections.pop(connection_id.lower(), None) is None:
                return Response("", status=404)
        return Response("", status=204)

    # Xero's paths are case-insensitive; the SDK says /Connections, the docs /connections.
    for path in ("/connections", "/Connections"):
        app.add_url_rule(path, f"xero_connections{path}", list_connections, methods=["GET"])
        app.add_url_rule(f"{path}/<connection_id>", f"xero_connection_delete{path}", delete_connection,
                         methods=["DELETE"])
