"""FHIR R4: the only package that knows FHIR (what a clinic's EMR or a health-information exchange reads).

Models and validation come from ``fhir.resources`` (8.x, pydantic 2). Its default models are R5; its
``fhir.resources.R4B`` models are used here. R4B (4.3.0) changed only the medication-definition, evidence
and subscription resources relative to R4 (4.0.1); Patient, Location, Encounter, Observation, Consent,
AuditEvent, Bundle and CapabilityStatement are the same, element for element, so what is built here is valid
R4 and the CapabilityStatement declares ``fhirVersion`` 4.0.1. (``fhir.resources`` 6.x, the last line with R4
as its default models, needs pydantic 1 and cannot live beside FastAPI's pydantic 2.)

Modules: ``systems`` (the URIs and codes carekey defines or uses), ``resources`` (one function per resource),
``bundles`` (a visit's transaction Bundle, a person's export Bundle), ``reading`` (values back out of a Bundle),
``capability`` (the CapabilityStatement). No biometric data is ever mapped: there is no function taking a
template or an image, and a Bundle refuses any resource type outside ``bundles.ALLOWED_TYPES``.
"""
