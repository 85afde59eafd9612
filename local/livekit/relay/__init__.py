"""The relay in front of the real livekit-server (see `core` for what it passes through and simulates).

Importers use only the names re-exported here; `python -m local.livekit.relay` runs `__main__`."""

from local.livekit.relay.core import EGRESS_PLACEHOLDER, LocalLiveKit, Relay, local_livekit
from local.livekit.relay.protocol import encode_webhook, sign_webhook

__all__ = ["EGRESS_PLACEHOLDER", "LocalLiveKit", "Relay", "encode_webhook", "local_livekit", "sign_webhook"]
