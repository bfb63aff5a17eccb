"""The complete example of docs/how-to/add-a-claim.md: the claim ``basics.keys.norm_fourth_moment``.

Each module is one of the three files a new claim needs, written exactly as it would be saved in the
suite, only kept out of the ledger so that the ledger's counts, calibration and mutation catalogue stay
those of the paper's claims:

* ``theory_side.py``  would be ``theory/<topic>.py``: the sympy derivation (imports sympy and ``theory``);
* ``numeric_side.py`` would be ``numerics/<topic>.py``: the Monte Carlo side (imports numpy and ``numerics``);
* ``claim.py``        would be ``proofs_check/claims/<topic>.py``, with ``register(`` around the ``Claim``.

``tests/test_add_a_claim_example.py`` checks it through the planned-power engine in quick and default
mode, and that the how-to quotes these files as they are.
"""
