"""Claim registrations, one module per topic of the paper.

Every module here is imported by :func:`proofs_check.ledger.all_claims`; a new topic is a new
module calling :func:`proofs_check.ledger.register`.
"""
