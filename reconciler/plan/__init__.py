"""From the desired state and Sentry's answers to a Plan, and from a Plan to text.

``model`` is the Plan (per project, ordered create/update/delete changes, never a secret value);
``differ`` compares one project; ``ordering``, ``rotation`` and ``delete_limits`` add their
rules; ``unfiled`` finds projects with sources and no file; ``expect`` compares two plans;
``render`` prints a Plan as text, markdown or JSON; ``planner`` reads Sentry and drives the rest;
``fresh`` is what ``plan`` and a fresh ``apply`` share: select the tree, connect, plan. It may
import ``config``, ``sentry`` and ``core``; never ``apply``, ``importer``, ``github`` or
``commands``. This file hands on nothing: importing a package must not load its modules.
"""
