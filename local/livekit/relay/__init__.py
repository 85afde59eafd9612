"""The relay in front of the real livekit-server (see `core` for what it passes through and simulates).

Importers use only the names re-exported here; `python -m local.livekit.relay` runs `__main__`."""

from local.livekit.relay.core import LocalLiveKit, Relay, local_livekit
from local.livekit.relay.protocol import encode_webhook, sign_webhook
from local.livekit.relay.recording import EGRESS_PLACEHOLDER

__all__ = ["EGRESS_PLACEHOLDER", "LocalLiveKit", "Relay", "encode_webhook", "local_livekit", "sign_webhook"]
