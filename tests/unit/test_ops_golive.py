"""The go-live core builds the stack's own CRM: HubSpot on a HubSpot stack, Pipedrive on a Pipedrive one,
each at the URL its functions use and with the token from its own secret."""

from __future__ import annotations

import httpx
import pytest

from crmbridge.crm.field_store import FieldStore
from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.pipedrive import PipedriveCrm
from crmbridge.ops.common import OpsError
from crmbridge.ops.golive import crm_for, settings_for
from tests.unit.test_ops_connect import FakeSecrets
from tests.unit.test_ops_fakes import FakeTable, fake_target

HUBSPOT = {"app_token": "hs-token", "client_secret": "hs-secret"}
PIPEDRIVE = {"api_token": "pd-token", "webhook_user": "bridge", "webhook_password": "pw"}


def stack_of(crm: str, secret: dict[str, str], **parameters: str):
    """A deployed stack with this CrmProvider, its CRM secret holding `secret`."""
    target = fake_target(parameters={"CrmProvider": crm, **parameters})
    target.kind = "stack"
    target.physical.update({"HubSpotSecret": "arn:hubspot", "PipedriveSecret": "arn:pipedrive"})
    target._clients["secretsmanager"] = FakeSecrets(secret)
    return target


def built(target) -> HubSpotCrm | PipedriveCrm:
    return crm_for(target, settings_for(target), httpx.Client(), FieldStore(FakeTable("pk", "sk")))  # type: ignore[return-value]


def test_a_hubspot_stack_gets_hubspot_at_its_url_with_the_hubspot_secrets_token():
    # Given a stack whose CrmProvider is hubspot, with its own HubSpot API URL
    target = stack_of("hubspot", HUBSPOT, HubSpotApiUrl="https://hubspot.proxy.example")
    # When the go-live core builds its CRM
    crm = built(target)
    # Then it is HubSpot, at that URL, with the app token read from the HubSpot secret
    assert isinstance(crm, HubSpotCrm)
    assert (crm._api, crm._token) == ("https://hubspot.proxy.example", "hs-token")
    assert target._clients["secretsmanager"].asked == ["arn:hubspot"]


def test_a_pipedrive_stack_still_gets_pipedrive():
    # Given a stack whose CrmProvider is pipedrive, When its CRM is built, Then it is Pipedrive with its token
    target = stack_of("pipedrive", PIPEDRIVE)
    crm = built(target)
    assert isinstance(crm, PipedriveCrm) and crm._token == "pd-token"
    assert target._clients["secretsmanager"].asked == ["arn:pipedrive"]


def test_a_local_hubspot_stack_reads_the_hubspot_emulator():
    # Given the local stack running with HubSpot and no HUBSPOT_API_URL, When its settings are made
    settings = settings_for(fake_target(environ={"CRM_PROVIDER": "hubspot", "HUBSPOT_EMULATOR_PORT": "4931"}))
    # Then they name HubSpot and the emulator's port
    assert (settings.crm_provider, settings.hubspot_api_url) == ("hubspot", "http://127.0.0.1:4931")


def test_a_placeholder_or_incomplete_hubspot_secret_is_explained():
    # Given the HubSpot secret as the template creates it, or without its app token, When the CRM is built,
    # Then bridgectl says which secret and what is wrong instead of calling HubSpot
    with pytest.raises(OpsError, match="HubSpot secret arn:hubspot still holds its placeholder"):
        built(stack_of("hubspot", {"app_token": "set-me", "client_secret": "x"}))
    with pytest.raises(OpsError, match="HubSpot secret arn:hubspot lacks"):
        built(stack_of("hubspot", {"client_secret": "x"}))


def test_a_crm_bridgectl_does_not_know_is_refused_by_name():
    with pytest.raises(OpsError, match="this deployment's CRM is salesforce"):
        settings_for(stack_of("salesforce", {}))
