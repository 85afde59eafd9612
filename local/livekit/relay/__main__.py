"""`python -m local.livekit.relay`: the relay as a process (flags: `--help`)."""

from local.livekit.relay.core import main

if __name__ == "__main__":
    main()
