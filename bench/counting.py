"""Counts AWS API calls (every boto3 client) and LiveKit API calls (livekit-api's Twirp client) in-process."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client


class Calls:
    """Calls made while counting, by `Service.Operation` (AWS) and `livekit.Service/Method` (LiveKit)."""

    def __init__(self) -> None:
        self.aws: Counter[str] = Counter()
        self.livekit: Counter[str] = Counter()

    def summary(self) -> str:
        parts = [f"{name} x{count}" for name, count in sorted({**self.aws, **self.livekit}.items())]
        return ", ".join(parts) or "none"


@contextmanager
def counting() -> Iterator[Calls]:
    """Patch the two choke points every call goes through; restore them afterwards."""
    from livekit.api import twirp_client

    calls = Calls()
    make_api_call = botocore.client.BaseClient._make_api_call
    twirp_request = twirp_client.TwirpClient.request

    def counted_aws(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.aws[f"{self.meta.service_model.service_id.replace(' ', '')}.{operation_name}"] += 1
        return make_api_call(self, operation_name, api_params)

    async def counted_livekit(self: Any, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.livekit[f"{service.removeprefix('livekit.')}/{method}"] += 1
        return await twirp_request(self, service, method, *args, **kwargs)

    botocore.client.BaseClient._make_api_call = counted_aws
    twirp_client.TwirpClient.request = counted_livekit
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = make_api_call
        twirp_client.TwirpClient.request = twirp_request
