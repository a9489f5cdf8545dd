"""The operator's commands (flask --app capture ...)."""
