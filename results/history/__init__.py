"""The history database: every finished session indexed for trends and regressions.

Modules: engine (one connection to SQLite or PostgreSQL, one SQL for both, the drivers
imported only when used), schema (the tables and a document as their rows), store (ingest
in one transaction, sessions, long-form values, baselines), files (results files and
session directories to ingest).

Part of the results leaf: it imports only results. The CLI (isobench/commands/history.py)
chooses the location: `--history`, else ISOBENCH_HISTORY, else history.sqlite under the
state root.
"""
