# app/main.py: FastAPI app creation and route loading.
#
# The design (fountainai-infrastructure.md, part II) gives the route
# (app/api/lightsail/instances.py) and the service
# (app/services/lightsail_service.py), copied verbatim beside this file, but
# not main.py: this is the least one can write, mounting the route where the
# design's curl calls it (/aws/lightsail/create-instance).
#
# scripts/bench only sends invalid requests, which FastAPI answers 422 before
# the route runs, so boto3 is never called. The service imports it when it is
# loaded, though: if Debian's python3-boto3 is not installed, an empty module
# stands in for it, so the benchmark needs no AWS SDK.
import sys
import types

try:
    import boto3  # noqa: F401
except ImportError:
    sys.modules["boto3"] = types.ModuleType("boto3")

from fastapi import FastAPI

from app.api.lightsail.instances import router as lightsail_router

app = FastAPI()
app.include_router(lightsail_router, prefix="/aws/lightsail")
