"""Mail that comes back in: each lead's reply address (addresses), reading a received message
(reading: its fields, the new text without the quoted history, whether it is automatic mail),
storing it with its event on the lead in one transaction (receiving), and the SMTP service that
takes it (server; `flask --app capture inbound`, command), and what privacy/ removes of it
(records). Wired in by wiring.init_app.

What a message does to its lead (its timeline event, the first contact that stops the clock)
is the pipeline's (pipeline/replies.py); this room only decides who wrote it and stores it.
Nothing here sends mail, so nothing received can start a loop.
"""
