"""Consultations: free slots, bookings (the only code that creates, moves, re-hosts or cancels one), calendar invitations, booking messages, the visitor's manage pages and the booking-rate alert."""
