"""One workload module for the demo, the test fixtures and the benchmarks' load generator.

keys: the SysV key ranges and the one way to find a free key; objects: making every kind of object (and `Maker`,
which records each in a ledger); children: starting child processes and awaiting their READY; roles: the demo's
children (producers, consumers, blocked waiters); ledger: what was made, removed again identity-checked, also
after a SIGKILL (`sweep`).
"""
