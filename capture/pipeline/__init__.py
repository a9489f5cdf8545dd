"""Every change to a lead: status (stages; statuses.LeadStatus), owner, notes and the spam mark
(tray), what a new lead sets off (arrival), what a consultation does to its lead (consultations,
for booking/), the response clock, the mail about a lead (notices, lead_view) and lead search
for the desk and the CLI (search). Wired in by wiring.init_app.
"""
