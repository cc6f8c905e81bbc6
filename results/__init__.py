"""isobench results: the contract between the benchmark (bench/) and its readers (reports/,
`isobench compare`).

Modules: errors (ResultsError), migrate (SCHEMA_VERSION and the steps from every earlier
version), document (schema.json, load, validate, atomic write, the document's operations
and its summary), stats (the one median/IQR/CV/bootstrap), metrics (the one table of metric
units, directions and regression thresholds), compare (the one regression rule and the
machine keys).

A leaf: it imports no other isobench package (runtime, vm, bench, reports).
"""
