"""The public form API: the submit pipeline (api), its answers (answers), the spam verdict (spam)
and the API's OpenAPI description; what a stored lead sets off is pipeline.arrival. Wired in by
wiring.init_app.
"""
