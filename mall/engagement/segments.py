"""Which RFM segment a member is in, for earning rules scoped to a segment.

HQ computes the segments (mall/hq/segments.py, refreshed by `mall jobs`) into the
member_segments table, which lives here, below HQ, so that earning can read it without
importing upwards. A member not yet computed (new since the last refresh) is in no segment:
a segment-scoped rule does not apply to them until the next refresh.
"""
from ..extensions import db
from .models import SEGMENTS, MemberSegment

__all__ = ["SEGMENTS", "segment_of"]


def segment_of(member_id: int) -> str | None:
    """The member's segment as of the last refresh, or None."""
    row = db.session.get(MemberSegment, member_id)
    return row.segment if row is not None else None
