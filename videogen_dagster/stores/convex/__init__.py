"""The Convex mirror of the metadata store, over Convex's HTTP function API (httpx).

client.py: the HTTP client and its typed errors; outbox.py: the durable, ordered queue of
mutations (pg_outbox.py: the same on PostgreSQL, cluster mode); records.py: store records as
the mutations' arguments; mirror.py: the store wrapper that mirrors every write, and open_metadata_store, the factory the resource and the bridge use.
"""

from videogen_dagster.stores.convex.client import (
    ConvexClient,
    ConvexError,
    ConvexFunctionError,
    ConvexRequestError,
    ConvexStale,
    ConvexUnavailable,
)
from videogen_dagster.stores.convex.mirror import (
    LOCAL_ONLY,
    MIRRORS,
    MirroredMetadataStore,
    open_metadata_store,
)
from videogen_dagster.stores.convex.outbox import ConvexOutbox
from videogen_dagster.stores.convex.pg_outbox import PostgresConvexOutbox

__all__ = [
    "LOCAL_ONLY", "MIRRORS", "ConvexClient", "ConvexError", "ConvexFunctionError", "ConvexOutbox",
    "ConvexRequestError", "ConvexStale", "ConvexUnavailable", "MirroredMetadataStore",
    "PostgresConvexOutbox", "open_metadata_store",
]
