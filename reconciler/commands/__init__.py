"""The command line's commands, one module each: parse the options, call one library function,
map the result to an exit code.

``options`` holds the options and helpers several commands share; ``progress`` is the live
display on stderr. ``reconciler.cli`` imports a command's module only when it runs. Commands may
import every package; nothing imports them but the CLI. This file hands on nothing: importing a
package must not load its modules.
"""
