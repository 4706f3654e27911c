"""moto for the proving ground: every patch devkit makes to it (``patches``, guarded by
``check_version``) and its server as a subprocess on loopback (``server``)."""

from devkit.moto.patches import (
    SUPPORTED_VERSION,
    MotoVersionError,
    check_version,
    install,
    patch_dynamodb_requests,
    patch_sqs_receive,
)
from devkit.moto.server import (
    ACCOUNT_ID,
    DUMMY_CREDENTIALS,
    REGION,
    MotoServer,
    MotoServerError,
    client,
    free_port,
    start_server,
)

__all__ = [
    "ACCOUNT_ID",
    "DUMMY_CREDENTIALS",
    "REGION",
    "SUPPORTED_VERSION",
    "MotoServer",
    "MotoServerError",
    "MotoVersionError",
    "check_version",
    "client",
    "free_port",
    "install",
    "patch_dynamodb_requests",
    "patch_sqs_receive",
    "start_server",
]
