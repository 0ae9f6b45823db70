"""The GitHub side of the workflows: talking to GitHub and to the Actions runner.

``rest`` is GitHub's REST API client and the run's GitHub settings; ``comment`` keeps symsync's
one comment per pull request and purpose; ``drift`` keeps the drift issue; ``actions`` writes what
the runner reads from a step (annotations, the step summary, outputs); ``reviewed_plan`` fetches
the plan a merged pull request was reviewed with; ``apply_run`` runs apply and reports it on the
pull request. It may import every package below it (``importer``, ``apply``, ``plan``,
``config``, ``sentry``, ``core``); never ``commands``. This file hands on nothing: importing a
package must not load its modules.
"""
