"""FHIR access: prefetch resolution, the FHIR client and parsing into R4B models."""
