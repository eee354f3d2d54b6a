"""One run over the fleet: which licenses, checking them within the deadline, turning evaluations into
deliveries, the alert transaction, and fan-out over SQS.

May import every layer below it (`storage`, `messages`, `leegality`, `alerting`, ...); only `wiring`,
`app` and `cli` import it.
"""
