"""Consultations: free slots (slots), bookings, which only appointments creates, moves, re-hosts or
cancels (reads in lookup, what a change queues in outgoing), calendar invitations (invitations:
the one .ics builder), the booking's messages (messages, updates), the visitor's manage pages
(pages) and the booking-rate alert (surge). Wired in by wiring.init_app.
"""
