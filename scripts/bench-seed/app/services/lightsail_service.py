# app/services/lightsail_service.py
import boto3

def create_instance(instance_name, blueprint_id, bundle_id, region, availability_zone):
    client = boto3.client('lightsail', region_name=region)
    
    response = client.create_instances(
        instanceNames=[instance_name],
        availabilityZone=availability_zone,
        blueprintId=blueprint_id,
        bundleId=bundle_id
    )
    
    return {"status": "success", "message": f"Instance {instance_name} created in {region}"}
