"""The HTTP request pipeline of /graphql, from the raw request to the encoded answer (schema/pipeline/view.py
lists its steps). It knows no domain: the answers it caches depend on the versions the domains registered with
``nexus.versions``, and the schema it runs is ``schema.api``'s (a `forbidden` import contract keeps it so)."""
