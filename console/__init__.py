"""The supervisors' web console (班长监控台): a page the engine serves, fed by the floor's event stream."""
