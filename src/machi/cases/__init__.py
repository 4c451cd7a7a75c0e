"""Cases: the staff side of applications — queues, workflow, electronic approval (電子決裁)."""
