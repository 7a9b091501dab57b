"""IVR: menus, tenants, business hours, blacklist, emergency, self-service lookup, voicemail, prompts and the
satisfaction survey."""
