"""The privacy policy's promises: erasure, a copy on request and retention (a daily chore of the
outbox). Calls the owners of leads, bookings and queued jobs; writes no one else's columns.
Wired in by wiring.init_app.
"""
