"""CDS Hooks 2.0 service: CNS-active therapy advice for HER2-positive breast cancer with brain metastases."""

__version__ = "0.1.0"
