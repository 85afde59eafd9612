"""Queue contracts. GoLiveQueue carries {"streamId"} from the webhook side; the chunk queue carries what the
notification says, so delivering a chunk never re-reads the stream."""

from pydantic import ConfigDict, Field

from reels_live.entities.base import CamelModel
from reels_live.entities.notifications import GoLiveContent


class GoLiveMessage(CamelModel):
    model_config = ConfigDict(extra="ignore")

    stream_id: str = Field(min_length=1, max_length=64)


class NotificationChunk(GoLiveContent):
    """One unit of delivery work: the alert and up to NotificationChunkSize recipients."""

    chunk_id: str
    recipient_ids: list[str]
