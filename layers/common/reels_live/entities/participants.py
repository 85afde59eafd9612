"""Who is in a stream: a participant per admitted user, and a session per LiveKit connection."""

from pydantic import ConfigDict

from reels_live.entities.base import CamelModel
from reels_live.entities.streams import Role


class Participant(CamelModel):
    """A user admitted to a stream: role, first and last admission (one item per stream and user)."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    user_id: str
    role: Role
    joined_at: int
    last_admitted_at: int
    left_at: int | None = None
    duration_ms: int | None = None
    # From LiveKit (issue 8): the sessions (LiveKit sids) connected now, how many there were, when the first
    # connected; `durationMs` adds up every closed session and `leftAt` is when the last one closed.
    connected_sids: list[str] = []
    session_count: int = 0
    first_connected_at: int | None = None
    version: int = 0


class Session(CamelModel):
    """One LiveKit connection of a user to a stream's room: its participant `sid`, joined and left times."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str
    sid: str
    user_id: str
    role: Role
    connected: bool
    joined_at: int
    left_at: int | None = None
    duration_ms: int | None = None
    version: int = 0
