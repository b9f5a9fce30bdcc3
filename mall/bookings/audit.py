"""Service slot and booking checks for `mall audit` (issue 13)."""
from ..audit import Check, register

BOOKING_CHECKS = [
    # A done booking used its place: only a cancelled one gave it back.
    Check("each slot's booked count equals its bookings that took a place, within its capacity", """
        SELECT s.id, s.capacity, s.booked, COUNT(b.id) AS holding FROM service_slots s
        LEFT JOIN bookings b ON b.slot_id = s.id AND b.status IN ('booked', 'rescheduled', 'done')
        GROUP BY s.id, s.capacity, s.booked HAVING s.booked <> COUNT(b.id) OR s.booked > s.capacity"""),
    Check("a booking holds its place only while its order is live; a done booking's order is fulfilled", """
        SELECT b.id, b.status, o.id, o.status FROM bookings b JOIN orders o ON o.id = b.order_id
        WHERE (b.status IN ('booked', 'rescheduled') AND o.status NOT IN ('awaiting_payment', 'in_review', 'ready'))
           OR (b.status = 'done' AND o.status <> 'fulfilled')"""),
]

register(*BOOKING_CHECKS)
