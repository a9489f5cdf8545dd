"""Every change to a lead: status, owner, notes and the spam mark (the tray), the response clock, and lead search for the desk and the CLI."""
