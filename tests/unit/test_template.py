"""What the linters do not check: the template's own promises (see shared toolchain notes)."""

import re

import pytest

from local.template import functions, load_template, resources_of_type

T = load_template()
RESOURCES = T["Resources"]


def props(logical_id):
    return RESOURCES[logical_id]["Properties"]


def test_routes_are_the_design_contract():
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"])
              for spec in functions(T).values() for e in spec.events.values() if e["Type"] == "HttpApi"}
    assert routes == {("POST", "/webhooks/pipedrive"), ("POST", "/webhooks/hubspot"),
                      ("POST", "/webhooks/xero"), ("GET", "/oauth/xero/callback")}


def test_queue_visibility_is_at_least_six_worker_timeouts_and_redrives_to_a_14_day_dlq():
    worker = functions(T)["SyncWorkerFunction"]
    assert props("SyncQueue")["VisibilityTimeout"] >= 6 * worker.timeout
    assert props("SyncQueue")["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}
    assert props("SyncDeadLetterQueue")["MessageRetentionPeriod"] == 14 * 86400
    for queue in resources_of_type(T, "AWS::SQS::Queue").values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")


def test_worker_reports_partial_batch_failures_with_bounded_concurrency():
    [event] = functions(T)["SyncWorkerFunction"].events.values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "WorkerMaxConcurrency"}
    assert 1 <= event["Properties"]["BatchSize"] <= 10


def test_tables_are_on_demand_with_recovery_and_encryption_and_tokens_use_the_stack_key():
    for table in resources_of_type(T, "AWS::DynamoDB::Table").values():
        p = table["Properties"]
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert p["SSESpecification"]["SSEEnabled"] is True
    assert props("TokensTable")["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "BridgeKey"}
    assert props("IdempotencyTable")["TimeToLiveSpecification"]["Enabled"] is True


def _statements():
    for logical_id, spec in resources_of_type(T, "AWS::Serverless::Function").items():
        for policy in spec["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                yield logical_id, statement


def test_function_policies_name_their_actions_and_resources():
    for logical_id, statement in _statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), logical_id
        assert statement["Resource"] != "*", logical_id


def test_secrets_reach_functions_by_arn_never_by_value():
    for spec in functions(T).values():
        for name, value in spec.environment.items():
            if re.search(r"SECRET|PASSWORD|TOKEN|KEY", name) and not name.endswith("_TABLE"):
                assert name.endswith("_ARN") and value.get("Ref", "").endswith("Secret"), name


def test_every_function_logs_to_a_group_with_retention():
    for logical_id, resource in resources_of_type(T, "AWS::Serverless::Function").items():
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


@pytest.mark.parametrize("logical_id", ["TokenRefresherFunction", "SweeperFunction", "LeakageCheckFunction"])
def test_schedules_retry_and_have_a_dead_letter_queue(logical_id):
    [event] = functions(T)[logical_id].events.values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert event["Properties"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SchedulerDeadLetterQueue", "Arn"]}


def test_every_alarm_notifies_the_encrypted_topic_cloudwatch_may_publish_to():
    alarms = resources_of_type(T, "AWS::CloudWatch::Alarm")
    assert {"DeadLetterQueueNotEmptyAlarm", "WorkerErrorsAlarm", "WebhookRejectionsAlarm",
            "TokenRefreshFailureAlarm", "XeroDailyLimitAlarm", "LeakageFoundAlarm"} <= alarms.keys()
    for alarm in alarms.values():
        assert {"Ref": "AlarmTopic"} in alarm["Properties"]["AlarmActions"]
    assert props("AlarmTopic")["KmsMasterKeyId"] == {"Ref": "BridgeKey"}
    key_policy = props("BridgeKey")["KeyPolicy"]["Statement"]
    assert any(s["Principal"].get("Service") == "cloudwatch.amazonaws.com" for s in key_policy)


def test_runtime_is_python_313_with_powertools_environment():
    globals_fn = T["Globals"]["Function"]
    assert globals_fn["Runtime"] == "python3.13"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= globals_fn["Environment"]["Variables"].keys()
    assert RESOURCES["BridgeLayer"]["Metadata"]["BuildMethod"] == "python3.13"


def test_leakage_alarm_fires_on_any_finding_of_the_scheduled_check():
    alarm = props("LeakageFoundAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("XeroCrmBridge", "LeakageFound")
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    check = functions(T)["LeakageCheckFunction"]
    assert {"LINKS_TABLE", "TOKENS_TABLE", "PIPEDRIVE_SECRET_ARN", "XERO_CREDENTIALS_SECRET_ARN"} <= check.environment.keys()


def test_the_leakage_check_only_reads_the_links_table():
    actions = {action for logical_id, statement in _statements() if logical_id == "LeakageCheckFunction"
               and statement["Resource"] == {"Fn::GetAtt": ["LinksTable", "Arn"]}
               for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}
    assert actions == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}


@pytest.mark.parametrize("logical_id", ["CrmWebhookFunction", "XeroWebhookFunction"])
def test_webhook_functions_resume_from_a_snapshot_through_their_published_alias(logical_id):
    function = props(logical_id)

    assert function["SnapStart"] == {"ApplyOn": {"Ref": "WebhookSnapStart"}}
    assert function["AutoPublishAlias"] == "live"  # SnapStart applies to published versions only
    assert T["Parameters"]["WebhookSnapStart"]["Default"] == "PublishedVersions"


def test_a_crm_daily_budget_used_up_alarms_on_the_worker_metric():
    alarm = props("CrmDailyLimitAlarm")

    assert (alarm["MetricName"], alarm["Threshold"], alarm["AlarmActions"]) == (
        "CrmDailyLimitReached", 0, [{"Ref": "AlarmTopic"}])


def _errors_alarms_by_function():
    out = {}
    for logical_id, alarm in resources_of_type(T, "AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        if (p.get("Namespace"), p.get("MetricName")) == ("AWS/Lambda", "Errors"):
            [dimension] = p["Dimensions"]
            out[dimension["Value"]["Ref"]] = logical_id
    return out


def test_every_function_has_an_errors_alarm():
    """A misnamed secret key makes every webhook a 500: some alarm must fire for each function."""
    assert set(_errors_alarms_by_function()) == set(resources_of_type(T, "AWS::Serverless::Function"))


@pytest.mark.parametrize(("alarm", "queue"), [("DeadLetterQueueNotEmptyAlarm", "SyncDeadLetterQueue"),
                                              ("SchedulerDeadLetterQueueNotEmptyAlarm", "SchedulerDeadLetterQueue")])
def test_each_dead_letter_queue_alarms_on_its_first_message(alarm, queue):
    p = props(alarm)
    assert (p["Namespace"], p["MetricName"], p["Threshold"], p["ComparisonOperator"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    assert p["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]


def test_the_http_api_alarms_on_any_5xx_of_its_stage():
    p = props("HttpApi5xxAlarm")
    assert (p["Namespace"], p["MetricName"], p["Threshold"]) == ("AWS/ApiGateway", "5xx", 0)
    assert p["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}, {"Name": "Stage", "Value": "$default"}]


def test_work_parked_too_long_alarms_on_the_worker_metric_and_the_limit_reaches_the_worker():
    p = props("ParkedTooLongAlarm")
    assert (p["Namespace"], p["MetricName"], p["Threshold"]) == ("XeroCrmBridge", "ParkedTooLong", 0)
    assert functions(T)["SyncWorkerFunction"].environment["PARK_LIMIT_SECONDS"] == {"Ref": "ParkLimitSeconds"}
    assert T["Parameters"]["ParkLimitSeconds"]["Default"] == 3 * 86400


def test_each_webhook_route_has_its_own_throttle_and_the_oauth_callback_keeps_the_default():
    api = props("HttpApi")
    webhook_routes = {f"{e['Properties']['Method']} {e['Properties']['Path']}"
                      for spec in functions(T).values() for e in spec.events.values()
                      if e["Type"] == "HttpApi" and e["Properties"]["Path"].startswith("/webhooks/")}
    assert set(api["RouteSettings"]) == webhook_routes
    for settings in api["RouteSettings"].values():
        assert settings["ThrottlingBurstLimit"] > 0 and settings["ThrottlingRateLimit"] > 0
    assert "GET /oauth/xero/callback" not in api["RouteSettings"] and api["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_access_logs_name_the_caller():
    import json

    fields = json.loads(props("HttpApi")["AccessLogSettings"]["Format"])
    assert fields["sourceIp"] == "$context.identity.sourceIp"
    assert fields["userAgent"] == "$context.identity.userAgent"
    assert {"requestId", "routeKey", "status"} <= fields.keys()


def test_kms_service_grants_are_conditioned_on_this_account_and_its_alarms():
    services = [s for s in props("BridgeKey")["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert services
    for statement in services:
        condition = statement["Condition"]
        assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert condition["ArnLike"]["aws:SourceArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}


def test_the_worker_is_sized_so_a_batch_fits_its_timeout_and_the_visibility_timeout_is_six_of_them():
    worker = functions(T)["SyncWorkerFunction"]
    [event] = worker.events.values()
    seconds_per_deal = 6  # ~4 Xero + ~6 CRM calls at usual latency, the slow end
    assert event["Properties"]["BatchSize"] * seconds_per_deal <= worker.timeout / 2
    assert props("SyncQueue")["VisibilityTimeout"] == 6 * worker.timeout
