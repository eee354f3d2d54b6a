"""AWS adapters for state and delivery: DynamoDB items and store (snapshots, alert state, mutes) and the
SNS publisher.

May import `messages`, `alerting`, `core`, `observability`. Never imports the run (`fleet`) or `reports`.
"""
