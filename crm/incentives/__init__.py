"""Incentive policies, their condition language and the evaluation engine.

See docs/incentives.md. `facts` validates project facts, `policies` loads policy files,
`engine` evaluates them for a zone and compares zones; all pure Python.
"""
