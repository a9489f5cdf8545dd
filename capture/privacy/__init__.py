"""The privacy policy's promises: erasure, a copy on request and retention. Calls the owners of leads and bookings; writes no one else's columns."""
