"""The public form API: validation against forms.yml, the spam verdict, writing the lead in one transaction, and the API's OpenAPI description."""
