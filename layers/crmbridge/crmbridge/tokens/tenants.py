"""Which Xero organisation a deal is invoiced to: chosen, never inferred.

In order: the organisation pinned at deploy time (XERO_TENANT_ID, the XeroTenantId parameter); the
mapping's first tenant route matching the deal; the organisation chosen in the tokens table (the first
one ever connected, until an operator runs `bridgectl tenants use`). Connecting another organisation
never changes the answer. When no organisation applies, the deal is a recorded failure naming what to
run, and NoXeroOrganisation is counted (NoXeroOrganisationAlarm).

A known organisation whose connection is broken is still the answer: its work waits (parked by the
token manager) until someone reconnects it, which keeps the choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from crmbridge.crm.models import CrmDeal
from crmbridge.errors import PermanentError
from crmbridge.mapping.config import MappingConfig
from crmbridge.tokens.store import ConnectionState, Selection, TokenStore

NO_ORGANISATION = "no_xero_organisation"
NO_ORGANISATION_METRIC = "NoXeroOrganisation"


class TenantChoiceError(PermanentError):
    """An operator's `tenants use` names an organisation that cannot be chosen."""

    def __init__(self, message: str) -> None:
        super().__init__("tenant_not_connected", message)


def resolve_tenant(settings_pin: str | None, store: TokenStore, mapping: MappingConfig | None,
                   deal: CrmDeal | None, *, on_metric: Callable[[str, float], None] = lambda name, value: None,
                   clock: Callable[[], float] = time.time) -> str:
    """The tenant id this deal is invoiced to, or PermanentError(no_xero_organisation)."""
    known = {state.tenant_id: state for state in store.states()}

    def refuse(message: str) -> PermanentError:
        on_metric(NO_ORGANISATION_METRIC, 1)
        return PermanentError(NO_ORGANISATION, message)

    if settings_pin:
        if settings_pin not in known:
            raise refuse(f"XERO_TENANT_ID (the XeroTenantId parameter) is {settings_pin}, which is not connected: "
                         "run `bridgectl connect` for that organisation, or deploy with another XeroTenantId")
        return settings_pin
    if mapping is not None and deal is not None:
        for route in mapping.tenant_routes:
            if route.currency == deal.currency.upper():
                if route.tenant_id not in known:
                    raise refuse(f"the mapping routes {route.currency} deals to Xero organisation {route.tenant_id}, "
                                 "which is not connected: run `bridgectl connect` for it, or fix tenant_routes")
                return route.tenant_id
    selection = store.selection() or _first_ever(store, list(known.values()), now=int(clock()))
    if selection is None:
        if not known:
            raise refuse("no Xero organisation is connected: run `bridgectl connect`, then resync the deal")
        raise refuse(f"{len(known)} Xero organisations are connected and none is chosen for invoicing: "
                     "run `bridgectl tenants` and `bridgectl tenants use TENANT_ID`, then resync the deal")
    if selection.tenant_id not in known:
        raise refuse(f"the chosen Xero organisation {selection.tenant_id} is not connected: run "
                     "`bridgectl tenants use TENANT_ID` with a connected one, then resync the deal")
    return selection.tenant_id


def _first_ever(store: TokenStore, known: list[ConnectionState], *, now: int) -> Selection | None:
    """A deployment from before the choice was stored, with its one organisation: that one, kept."""
    if len(known) != 1:
        return None
    store.select(known[0].tenant_id, by="first connection", now=now, only_if_none=True)
    return store.selection()


def list_tenants(store: TokenStore) -> tuple[list[ConnectionState], Selection | None]:
    """Every connected organisation (never a token) and the one deals are invoiced to: the stored
    choice, or the only organisation of a deployment from before the choice was stored."""
    states, selection = store.states(), store.selection()
    if selection is None and len(states) == 1:
        selection = Selection(tenant_id=states[0].tenant_id, selected_by="first connection", selected_at=0)
    return states, selection


def use_tenant(store: TokenStore, tenant_id: str, *, now: int) -> ConnectionState:
    """Choose the organisation deals are invoiced to; only a connected one can be chosen."""
    states = {state.tenant_id: state for state in store.states()}
    state = states.get(tenant_id.strip().lower()) or states.get(tenant_id.strip())
    if state is None:
        known = ", ".join(states) or "none"
        raise TenantChoiceError(f"{tenant_id} is not a connected Xero organisation (connected: {known}); "
                                "`bridgectl connect` connects another")
    if state.status != "CONNECTED":
        raise TenantChoiceError(f"Xero organisation {state.tenant_name or tenant_id} is disconnected "
                                f"({state.status_reason or 'no reason recorded'}): `bridgectl connect` it again first")
    store.select(state.tenant_id, by="operator", now=now)
    return state
