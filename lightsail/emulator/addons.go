package emulator

// enableAddOn answers EnableAddOn on an instance: the add-on is enabled,
// or its settings replaced (Lightsail changes an automatic snapshot's time
// of day this way). The resource must be an instance: the emulator has no
// disks. One operation on the instance, Succeeded at once.
func (c *call) enableAddOn() (any, *apiError) {
	var in struct {
		ResourceName *string       `json:"resourceName"`
		AddOnRequest *addOnRequest `json:"addOnRequest"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	name, aerr := requireName("resourceName", in.ResourceName)
	if aerr != nil {
		return nil, aerr
	}
	if in.AddOnRequest == nil {
		return nil, errMissing("addOnRequest")
	}
	if in.AddOnRequest.AddOnType == nil {
		return nil, errMissing("addOnRequest.addOnType")
	}
	added, aerr := instanceAddOns([]addOnRequest{*in.AddOnRequest})
	if aerr != nil {
		return nil, aerr
	}
	rg := c.lock()
	inst := rg.instances[name]
	if inst == nil {
		return nil, errNotFound("The resource %s does not exist.", name)
	}
	inst.addOns = append(withoutAddOn(inst.addOns, added[0].Name), added[0])
	return opsOutput{wireOps(c.instanceOp(inst, "EnableAddOn", true))}, nil
}

// disableAddOn answers DisableAddOn. Disabling an add-on that is not
// enabled succeeds without effect (the emulator's choice).
func (c *call) disableAddOn() (any, *apiError) {
	var in struct {
		AddOnType    *string `json:"addOnType"`
		ResourceName *string `json:"resourceName"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.AddOnType == nil {
		return nil, errMissing("addOnType")
	}
	name, aerr := requireName("resourceName", in.ResourceName)
	if aerr != nil {
		return nil, aerr
	}
	switch *in.AddOnType {
	case "AutoSnapshot", "StopInstanceOnIdle":
	default:
		return nil, errInvalid("1 validation error detected: Value '%s' at 'addOnType' failed to satisfy constraint: Member must satisfy enum value set: [AutoSnapshot, StopInstanceOnIdle]", *in.AddOnType)
	}
	rg := c.lock()
	inst := rg.instances[name]
	if inst == nil {
		return nil, errNotFound("The resource %s does not exist.", name)
	}
	inst.addOns = withoutAddOn(inst.addOns, *in.AddOnType)
	return opsOutput{wireOps(c.instanceOp(inst, "DisableAddOn", true))}, nil
}

// withoutAddOn returns addOns without the one named.
func withoutAddOn(addOns []addOnJSON, name string) []addOnJSON {
	out := make([]addOnJSON, 0, len(addOns))
	for _, a := range addOns {
		if a.Name != name {
			out = append(out, a)
		}
	}
	return out
}
