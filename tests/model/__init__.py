"""A reference model of the alert machine (`alert_model`) and the stateful test that checks the real code
against it (`test_alert_machine`). The soak (`local/soak.py`) uses the same model as its oracle."""
