"""Stores: where results live. `objectstore` (S3 and local files: key layout, config, uploads),
`metastore` (the MetadataStore protocol and its SQLite implementation: tasks, videos, status)
and `convex` (the Convex client, outbox and records, and the mirror that wraps any MetadataStore).
Each subpackage re-exports its main names; the Dagster resources in `resources/` configure them.
"""
