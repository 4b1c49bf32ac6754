"""PREMIS, Dublin Core and METS: write, read and validate the METS document of a package."""

from strongroom.metadata.mets import MetsInput, read_mets, write_mets
from strongroom.metadata.validate import MetsValidator, SchemaProblem, validate_mets

__all__ = ["MetsInput", "MetsValidator", "SchemaProblem", "read_mets", "validate_mets", "write_mets"]
