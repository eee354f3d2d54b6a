"""`usage-monitor test-alert`: publish a clearly marked sample alert through the real topic."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from usage_monitor.cli import common
from usage_monitor.cli.common import CliError, add_command, env


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "test-alert",
        "publish a clearly marked sample alert, to verify email, SMS and chat subscriptions",
        "Publish a sample alert through the real topic (severity critical, so SMS subscribers\n"
        "filtered to critical alerts get it too; event_type 'test').",
    )
    parser.add_argument("--topic-arn", help="the alert topic (default: ALERT_TOPIC_ARN; stack output AlertTopicArn)")
    parser.set_defaults(handler=run_test_alert)


def run_test_alert(args: argparse.Namespace) -> int:
    from usage_monitor.messages.render import render_test_alert
    from usage_monitor.storage.sns import PublishFailed, SnsNotifier

    topic_arn = args.topic_arn or env("ALERT_TOPIC_ARN")
    if not topic_arn:
        raise CliError("no topic: pass --topic-arn ARN or set ALERT_TOPIC_ARN (the stack output AlertTopicArn)")
    session = common.aws_session(args)
    notifier = SnsNotifier(topic_arn, session.client("sns", config=common.aws_config()))
    with common.aws_errors(session.region_name, f"topic {topic_arn}"):
        try:
            message_id = notifier.publish(render_test_alert(datetime.now(UTC)).outgoing())
        except PublishFailed as exc:
            cause = exc.__cause__
            if cause is not None:
                raise cause from None
            raise CliError(str(exc)) from None
    print(f"Test alert published to {topic_arn} (message {message_id}); check the email inbox, phone and chat channel.")
    return common.EXIT_OK
