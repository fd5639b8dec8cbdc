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
# loaded, as deployed (the design's requirements.txt installs it): scripts/bench
# installs Debian's python3-boto3, and the seed's memory includes it.
from fastapi import FastAPI

from app.api.lightsail.instances import router as lightsail_router

app = FastAPI()
app.include_router(lightsail_router, prefix="/aws/lightsail")
