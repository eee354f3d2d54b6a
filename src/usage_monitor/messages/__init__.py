"""The words a person reads: subject, email body, SMS (GSM-7, one segment), the chat event and the
run-level problem texts.

Pure. May import `alerting` and `core`; never an adapter or the run.
"""
