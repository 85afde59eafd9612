"""Local LiveKit: the real livekit-server (`server`), the relay in front of it (`relay`) and real WebRTC
clients (`clients`). Nothing is imported here: `livekit.rtc` is heavy and only `clients` needs it."""
