"""symsync: keep Sentry project symbol sources in step with versioned YAML."""

# The one place the version is set: pyproject.toml reads it (dynamic version), and so do
# `symsync --version` and the User-Agent sent to Sentry.
__version__ = "0.1.0"
