"""The use cases, between the HTTP edges (``api/``, ``web/``) and the store.

One module per group: ``subscriptions`` (register, preview, test push),
``auth_methods`` (a JWT or OAuth2 method from its input), ``reports`` (request
a report, sign in, session tokens), ``deliveries`` (retry, replay), ``ingest``
(route and store events), ``limits`` (per-caller limits and the sign-in
throttle), ``inputs`` (field types and error wording of parsed input). Their
functions take plain typed values and the collaborators they use (the store,
the clock's ``now``, settings values), never a request; the API and the
dashboard each translate their input into those values.
"""
