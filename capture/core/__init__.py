"""The small core every capability stands on: settings (settings, setting_checks, mail_url,
durations), the clock, errors and HTTP answers (errors, http, cors), tokens and links (tokens,
urls, link_forms), formatting through Babel, paths, rate limits and the site's page list.
Imports nothing else from capture.
"""
