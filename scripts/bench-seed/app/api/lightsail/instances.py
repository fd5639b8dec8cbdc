# app/api/lightsail/instances.py
from fastapi import APIRouter
from app.services.lightsail_service import create_instance

router = APIRouter()

@router.post("/create-instance")
async def create_lightsail_instance(instance_name: str, blueprint_id: str, bundle_id: str, region: str, availability_zone: str):
    response = create_instance(instance_name, blueprint_id, bundle_id, region, availability_zone)
    return response
