"""The test PKI: a simulated My Number card authority, demo cards and the companion app.

Nothing here is imported by production code paths: the demo loader, the ``card`` command,
the demo signing client (registered only outside ``MACHI_PRODUCTION``) and tests use it.
Everything it makes is marked TEST ONLY and is trusted only outside production.

- :mod:`.cards` — the two test CAs (署名用, 利用者証明用), card files, CRLs.
- :mod:`.wallet` — the demo residents' cards kept on the server, so the browser can sign with
  one click in a demo.
- :mod:`.companion` — what a smartphone companion app does with a signing hand-off request.
- :mod:`.signing` — the "demo card" signing client.
"""
