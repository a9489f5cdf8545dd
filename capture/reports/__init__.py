"""What marketing and sales read: the report (one implementation for the desk, CLI and digest), trends, charts and the weekly digest."""
