"""Supply chain: a signature, provenance, a gate attestation and an SBOM for every pushed image,
stored in cosign's layout next to it, and the check that deploy runs before it pulls.

Floor: above ``push`` (it writes through push's registry client with the targets'
credentials), below ``deploy`` (which calls ``check.verify_release``).
"""
