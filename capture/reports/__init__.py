"""What marketing and sales read: the report (one implementation for the desk, CLI and digest;
formats writes it out), trends over time, the open pipeline, charts (an autoescaped Jinja macro)
and the weekly digest (a periodic message kind). Wired in by wiring.init_app.
"""
