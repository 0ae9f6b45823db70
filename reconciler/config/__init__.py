"""The desired state, read offline: the files of ``configs/`` and what they mean.

``tree`` finds the project files, ``yamlread`` reads YAML with the position of every value,
``project_file`` is the model of a project file, ``wording`` turns what is wrong into
``PATH:LINE:COLUMN: message`` lines (``diagnostic`` is one such line), ``loader`` puts these
together, and ``base_revision`` reads the files as they were at a git revision (``--base``).
It may import ``sentry.spec`` (Sentry's vocabulary) and ``core``; never the stages above it.
This file hands on nothing: importing a package must not load its modules.
"""
