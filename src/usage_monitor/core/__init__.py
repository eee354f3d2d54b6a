"""Shared value types and pure helpers every layer may use: models, errors, numbers, schedules,
license-list entries and the AWS services' size limits.

Imports nothing from the rest of the package and nothing from AWS.
"""
