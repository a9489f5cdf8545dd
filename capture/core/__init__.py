"""The small core every capability stands on: settings, the clock, errors, tokens, paths, rate limits and the form tokens of email-link pages. Imports nothing else from capture."""
