"""Where the project's files are, for the app, the worker and the site build alike."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
