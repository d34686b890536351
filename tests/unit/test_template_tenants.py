"""The template's part in choosing the Xero organisation: the XeroTenantId pin and the alarm for deals
no organisation applies to."""

from local.template import functions, load_template, resources_of_type

T = load_template()


def test_the_xero_tenant_id_parameter_pins_every_function_and_is_empty_by_default():
    # Given the template as deployed without parameters
    # Then XeroTenantId is empty (the stored choice decides) and every function reads it as XERO_TENANT_ID
    assert T["Parameters"]["XeroTenantId"]["Default"] == ""
    for spec in functions(T).values():
        assert spec.environment["XERO_TENANT_ID"] == {"Ref": "XeroTenantId"}


def test_deals_no_organisation_applies_to_raise_an_alarm_to_the_topic():
    # Given the alarm on the metric resolve_tenant counts
    alarm = resources_of_type(T, "AWS::CloudWatch::Alarm")["NoXeroOrganisationAlarm"]["Properties"]
    # Then the first such deal in five minutes notifies the operators, and the text says what to run
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "NoXeroOrganisation", "Sum", 0, "GreaterThanThreshold")
    assert {"Ref": "AlarmTopic"} in alarm["AlarmActions"]
    assert "bridgectl tenants" in alarm["AlarmDescription"]


def test_used_oauth_states_expire_from_the_tokens_table():
    # Given the tokens table, which records each used OAuth state so a connect link works once
    table = resources_of_type(T, "AWS::DynamoDB::Table")["TokensTable"]["Properties"]
    # Then those records go by TTL (only they carry expires_at)
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
