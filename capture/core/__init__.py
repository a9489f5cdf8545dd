"""The small core every capability stands on: settings (settings, setting_checks, mail_url,
durations), the clock, errors and HTTP answers (errors, http, cors), tokens and links (tokens,
urls, link_forms), formatting through Babel, paths, rate limits, the site's page list and its
pages' titles (page_titles).
Imports nothing else from capture.
"""
