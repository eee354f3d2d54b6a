"""TLS trust for Leegality hosts: the system's CAs, plus an optional private CA bundle from SSM.

On-premise SignStation hosts often carry certificates from an internal CA. The bundle is added to the
default trust store, never replacing it, and verification is never switched off.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import urllib3

from usage_monitor.core.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def read_ca_bundle(parameter: str, client: SSMClient, max_age_seconds: int) -> str:
    """The PEM text of the SSM parameter (String or SecureString), through Powertools' cache."""
    from aws_lambda_powertools.utilities import parameters

    provider = parameters.SSMProvider(boto3_client=client)
    try:
        value = provider.get(parameter, max_age=max_age_seconds, decrypt=True)
    except parameters.exceptions.GetParameterError as exc:
        cause = exc.__cause__ or exc.__context__
        code = getattr(cause, "response", {}).get("Error", {}).get("Code", type(cause).__name__)
        raise ConfigError(f"CA_BUNDLE_PARAMETER: cannot read SSM parameter {parameter!r} ({code})") from None
    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise ConfigError(f"CA_BUNDLE_PARAMETER: SSM parameter {parameter!r} holds no PEM certificate")
    return value


def trust_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The default context (system CAs, hostname checks) plus the bundle's CAs."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cadata=ca_bundle)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"CA_BUNDLE_PARAMETER: the PEM bundle does not load ({type(exc).__name__})") from None
    return context


def pool_manager(max_connections: int, ca_bundle: str | None = None) -> urllib3.PoolManager:
    if ca_bundle is None:
        return urllib3.PoolManager(maxsize=max_connections, block=False)
    return urllib3.PoolManager(maxsize=max_connections, block=False, ssl_context=trust_context(ca_bundle))
