"""What the team describes in files: forms.yml (the forms), sales.yml (team, hours, promises) and
working time. Loaded once at start; imports only core.
"""
