"""IVR: menus, tenants, business hours, blacklist, voicemail and the satisfaction survey (issue 4)."""
