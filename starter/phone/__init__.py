"""Phone calls to a tenant's number: the call flow as TwiML (`call_flow`) and the cases calls open
(`call_cases`). Pure functions; the gateway's Twilio routes wire them to HTTP and Temporal."""
