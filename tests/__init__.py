"""The tests: tests/<package>/ mirrors capture/<package>/; whole-product checks sit at the top."""
