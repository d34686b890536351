"""The local EventBridge schedules: rates from the template, the event Lambda gets, runs on demand."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.scheduler import Schedule, Scheduler, parse_rate, schedules_from_template, speedup_from_env
from local.template import FunctionSpec
from tests.integration.fixtures import recorder


def scheduled(**props: Any) -> FunctionSpec:
    kind = props.pop("Type", "ScheduleV2")
    return FunctionSpec(
        logical_id="ScheduledTestFunction",
        code_uri="tests/integration/fixtures/schedule_app",
        handler="app.lambda_handler",
        timeout=5,
        environment={},
        events={"Tick": {"Type": kind, "Properties": {"ScheduleExpression": "rate(1 minute)", **props}}},
    )


def schedule_of(spec: FunctionSpec) -> Schedule:
    [schedule] = schedules_from_template({"Resources": {}}, specs={spec.logical_id: spec})
    return schedule


@pytest.fixture(autouse=True)
def _clean_recorder():
    recorder.clear()
    yield
    recorder.clear()


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(10 minutes)", 600), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expression_gives_its_period_in_seconds(expression, seconds):
    assert parse_rate(expression) == seconds


def test_cron_expression_has_no_local_period():
    assert parse_rate("cron(0 9 * * ? *)") is None


@pytest.mark.parametrize("expression", ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "every 5 minutes"])
def test_invalid_rate_expression_is_rejected(expression):
    with pytest.raises(ValueError):
        parse_rate(expression)


def test_template_token_refresher_schedule_uses_the_rate_parameter():
    [schedule] = [s for s in schedules_from_template() if s.function.logical_id == "TokenRefresherFunction"]

    assert (schedule.kind, schedule.expression, schedule.enabled) == ("ScheduleV2", "rate(10 minutes)", True)


def test_scheduler_v2_without_input_sends_its_default_notification():
    schedule = schedule_of(scheduled())

    event = schedule.event()

    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == "{}"
    assert event["resources"] == [
        f"arn:aws:scheduler:eu-west-2:123456789012:schedule/default/{schedule.name}"
    ]
    assert (event["account"], event["region"], event["version"]) == ("123456789012", "eu-west-2", "0")


def test_eventbridge_rule_schedule_sends_an_aws_events_scheduled_event():
    schedule = schedule_of(scheduled(Type="Schedule", Schedule="rate(5 minutes)"))

    event = schedule.event()

    assert (event["source"], event["detail"]) == ("aws.events", {})
    assert event["resources"][0].startswith("arn:aws:events:eu-west-2:123456789012:rule/")


def test_schedule_input_is_the_whole_event():
    schedule = schedule_of(scheduled(Input='{"sweep": "overdue"}'))

    assert schedule.event() == {"sweep": "overdue"}


def test_run_now_invokes_the_function_with_the_schedule_event():
    scheduler = Scheduler([schedule_of(scheduled(Input='{"sweep": "overdue"}'))], speedup=0)

    result = scheduler.run_now("ScheduledTestFunction")

    assert result == {"refreshed": 0}
    assert recorder.events == [{"sweep": "overdue"}]


def test_run_now_of_an_unknown_schedule_says_which_exist():
    scheduler = Scheduler([schedule_of(scheduled())], speedup=0)

    with pytest.raises(LookupError, match=r"ScheduledTestFunction\.Tick"):
        scheduler.run_now("NoSuchFunction")


def test_speedup_runs_a_rate_schedule_on_its_shortened_period():
    # rate(1 minute) at 120x: every 0.5 s.
    with Scheduler([schedule_of(scheduled())], speedup=120):
        time.sleep(1.3)

    assert len(recorder.events) == 2


def test_disabled_schedule_does_not_run_on_the_timer():
    with Scheduler([schedule_of(scheduled(State="DISABLED"))], speedup=600):
        time.sleep(0.4)

    assert recorder.events == []


def test_speedup_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOCAL_SCHEDULE_SPEEDUP", "60")

    assert speedup_from_env() == 60
