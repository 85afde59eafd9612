"""A relay in front of the real livekit-server: one LiveKit URL for API calls and client signalling, plus the
few things the real server cannot do on one machine.

Real, passed through untouched:
- every Twirp call (`/twirp/livekit.RoomService/...` and the rest) and client signalling (the `/rtc`
  WebSocket, `/rtc/validate`); media never touches the relay, clients send it to the server's UDP port;
- the server's own webhooks: the server posts them to the relay (`/webhook`), the relay forwards body and
  Authorization header byte for byte to the targets and answers the server with the target's status, so
  LiveKit's per-room queue and its retries on 5xx or connection errors work end to end.

Simulated (egress needs Chrome and GStreamer, which a test machine does not run):
- the Egress service (`/twirp/livekit.Egress/...`: StartRoomCompositeEgress, StopEgress, ListEgress), JSON and
  protobuf like Twirp, with the server's authorisation rule (a valid token with the roomRecord grant);
- auto-egress: CreateRoom's `egress` is stripped before forwarding (livekit-server without an egress worker
  fails CreateRoom when it is set) and run when the server's `room_started` for that room arrives;
- the recording: a small placeholder file (it says so) uploaded with boto3 to the request's S3 bucket, and
  signed `egress_started`/`egress_updated`/`egress_ended` webhooks encoded and signed as the server does;
- faults, set at run time from Python or the admin API (`/_relay/...`): on webhook delivery drop, duplicate,
  delay, reorder, reject (answer the sender an error so it retries); failing the next egress; cutting a
  client's signalling connection (a network blip; media keeps flowing, the SDK reconnects).

In-process: `Relay(upstream).start()` (a thread with its own event loop), or `local_livekit()` for relay and
server together. As a process:

    python -m local.livekit.relay --upstream http://127.0.0.1:7880 --port 7800 \\
        --webhook-target http://127.0.0.1:3000/livekit/webhook --api-key K --api-secret S

Where it lives, one module a job (`Relay` is one object composed of four mixins):
- `core`: `Relay` itself: shared state (the lock, the one aiohttp session, tasks), start/stop, routing;
- `proxy`: pass-through of HTTP/Twirp and the `/rtc` WebSocket to the server, and cutting signalling;
- `webhooks`: the `/webhook` endpoint, fault rules, forwarding to the targets, the webhook log;
- `egress`: the simulated Egress service, auto-egress, each egress's states and signed webhooks;
- `recording`: the placeholder recording uploaded to S3, under the object key egress would write;
- `admin`: the admin API (`/_relay/...`) and Twirp call counting with injected failures;
- `protocol` (Twirp errors, webhook encoding and signing) and `records` (faults, webhook records): shared;
- `with_server`: `local_livekit()` and `LocalLiveKit`, relay and server together;
- `__main__`: the command line.

Names with a leading underscore belong to the package; other code imports only the names below.
"""

from local.livekit.relay.core import Relay
from local.livekit.relay.protocol import encode_webhook, sign_webhook
from local.livekit.relay.recording import EGRESS_PLACEHOLDER
from local.livekit.relay.with_server import LocalLiveKit, local_livekit

__all__ = ["EGRESS_PLACEHOLDER", "LocalLiveKit", "Relay", "encode_webhook", "local_livekit", "sign_webhook"]
