"""The built site for tests/site: the same session fixture as tests/test_site.py (one build)."""
from tests.test_site import site  # noqa: F401 (a fixture)
