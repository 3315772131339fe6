"""Test harness: a real Asterisk sandbox, the daemon as a subprocess, SIPp callers and agents.

Nothing here fakes telephony: tests that use it go through a running Asterisk. If a real part
(Asterisk, SIPp, sox) is missing, the harness fails loudly with the install command to run.
"""
